"""The command line of the scripts that generate a file under docs/ from the code.

``python ci/SCRIPT.py`` writes the file; ``--check`` fails (exit 1) when the file
in the tree is not what the code generates, so CI catches a stale one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def generate(render: Callable[[], str], out: Path, script: str, description: str | None) -> int:
    """Write ``render()`` to ``out``, or with ``--check`` compare it; the exit code."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"fail if {out.name} is stale")
    args = parser.parse_args()
    text = render()
    if not args.check:
        out.write_text(text)
        return 0
    if out.exists() and out.read_text() == text:
        return 0
    print(f"{out} is stale: run python ci/{script}", file=sys.stderr)
    return 1
