#!/usr/bin/env python3
"""``python3 ci/chrony_lab.py start|status|stop|run``: the lab of :mod:`pychrony.lab`.

Runs from a source tree without installing pychrony (the lab is stdlib only).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pychrony.lab import *  # noqa: F403  (import chrony_lab keeps working)
from pychrony.lab import main

if __name__ == "__main__":
    sys.exit(main())
