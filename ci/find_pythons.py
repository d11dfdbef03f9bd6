"""The CPython interpreters (3.10 and newer) installed here, one per minor version.

    python ci/find_pythons.py [--other]

Prints ``VERSION<TAB>PATH`` per interpreter found (``--other``: all but this
interpreter's own version), and on stderr what pyproject.toml's classifiers claim
that is not installed. Looked for: ``python3.N`` and ``python3`` on PATH, in
/usr/bin, /usr/local/bin and /opt/python*/bin, and pyenv's versions
(``$PYENV_ROOT``, default ~/.pyenv). Stdlib only.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLDEST = (3, 10)
_PROBE = "import sys; print(sys.implementation.name, *sys.version_info[:2])"


def claimed_versions() -> list[tuple[int, int]]:
    """The ``Programming Language :: Python :: 3.N`` classifiers of pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.findall(r'"Programming Language :: Python :: (\d+)\.(\d+)"', text)
    return sorted({(int(major), int(minor)) for major, minor in found})


def candidates() -> list[str]:
    """Every path that may be a Python 3 interpreter, most specific first."""
    dirs = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]
    dirs += sorted(glob.glob("/opt/python*/bin"))
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    dirs += sorted(glob.glob(os.path.join(pyenv, "versions", "*", "bin")))
    paths: list[str] = []
    for directory in dict.fromkeys(d for d in dirs if d):
        paths += sorted(glob.glob(os.path.join(directory, "python3.[0-9]*")))
        paths.append(os.path.join(directory, "python3"))
    return [p for p in dict.fromkeys(paths) if _is_program(p)]


def _is_program(path: str) -> bool:
    return re.search(r"python3(\.\d+)?$", path) is not None and os.access(path, os.X_OK)


def probe(path: str) -> tuple[int, int] | None:
    """The version of CPython at ``path``; None for another implementation or a failure."""
    try:
        out = subprocess.run(
            [path, "-c", _PROBE], capture_output=True, text=True, timeout=10, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 3 or out[0] != "cpython":
        return None
    return int(out[1]), int(out[2])


def find() -> dict[tuple[int, int], str]:
    """Version -> the first interpreter found for it (3.10 and newer)."""
    found: dict[tuple[int, int], str] = {}
    for path in candidates():
        version = probe(path)
        if version is not None and version >= OLDEST and version not in found:
            found[version] = os.path.realpath(path)
    return dict(sorted(found.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", action="store_true", help="leave out this interpreter's")
    args = parser.parse_args()
    found = find()
    own = sys.version_info[:2]
    for version in claimed_versions():
        if version not in found and version != own:
            print(
                f"find_pythons: Python {version[0]}.{version[1]} is claimed "
                "(pyproject.toml classifiers) but not installed here",
                file=sys.stderr,
            )
    for version, path in found.items():
        if args.other and version == own:
            continue
        print(f"{version[0]}.{version[1]}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
