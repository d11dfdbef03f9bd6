"""The command of every doc generator in ci/: write the page, or ``--check`` that it is
current (CI fails on a stale page)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def main(out: Path, render: Callable[[], str], description: str | None) -> int:
    """Write ``render()`` to ``out``; with ``--check`` only compare (1 when stale)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"fail if {out.name} is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not out.exists() or out.read_text() != text:
            print(f"{out} is stale: run python {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    out.write_text(text)
    return 0
