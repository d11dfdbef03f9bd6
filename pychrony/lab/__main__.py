"""``python -m pychrony.lab start|status|stop|run`` (as ``ci/chrony_lab.py``)."""

import sys

from . import main

sys.exit(main())
