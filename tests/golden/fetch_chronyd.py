"""Fetch Debian's chronyd/chronyc binaries of another release into a private root.

    python tests/golden/fetch_chronyd.py 4.6 /opt/chrony-4.6 [--suite trixie]
    python tests/golden/capture.py --chronyd /opt/chrony-4.6/chronyd

For capturing golden replies (tests/golden/capture.py) from a chronyd the system
does not package, and for ci/test.sh's chronyd 4.6 pass. It reads the suite's
Packages index from deb.debian.org, takes the ``chrony`` package of that version
and the shared-library packages it needs (its ``lib*`` dependencies and theirs,
transitively, libc6 included), checks each download's SHA256 against the index,
extracts them all with ``dpkg -x`` into ``DIR/root`` and writes ``DIR/chronyd``
and ``DIR/chronyc``: wrappers that run the binaries through the suite's own
dynamic loader and libraries. Nothing is installed system-wide; the system's
chrony stays the default for the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

MIRROR = "https://deb.debian.org/debian"
ARCH = "amd64"
_TIMEOUT = 60.0
#: Where the libc6 package keeps the loader, and the library directories.
LOADER = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
PROGRAMS = {"chronyd": "usr/sbin/chronyd", "chronyc": "usr/bin/chronyc"}


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
        data: bytes = response.read()
    return data


def parse_packages(text: str) -> dict[str, dict[str, str]]:
    """The stanzas of a Packages index by package name (the last one wins)."""
    packages: dict[str, dict[str, str]] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith((" ", "\t")):
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


def _dependency_names(fields: dict[str, str]) -> list[str]:
    names = []
    for field in ("Pre-Depends", "Depends"):
        for clause in fields.get(field, "").split(","):
            first = clause.split("|")[0].strip()
            if first:
                names.append(re.split(r"[\s(:]", first, maxsplit=1)[0])
    return names


def library_closure(packages: dict[str, dict[str, str]], root: str) -> list[str]:
    """*root* and the ``lib*`` packages it depends on, transitively, in the index."""
    wanted = [root]
    seen = {root}
    for name in wanted:
        for dep in _dependency_names(packages[name]):
            if dep.startswith("lib") and dep in packages and dep not in seen:
                seen.add(dep)
                wanted.append(dep)
    return wanted


def _wrapper(root: Path, program: str, name: str) -> str:
    library_path = ":".join(str(root / d) for d in LIBRARY_DIRS if (root / d).is_dir())
    # bash's exec -a keeps argv[0] (and /proc/PID/cmdline) the program's name, which the
    # lab checks before signalling a pid it did not start itself.
    return (
        "#!/bin/bash\n"
        f"# {name} from a Debian package, run through its own loader (fetch_chronyd.py)\n"
        f"exec -a {shlex.quote(name)} {shlex.quote(str(root / LOADER))} "
        f"--library-path {shlex.quote(library_path)} "
        f'{shlex.quote(str(root / program))} "$@"\n'
    )


def fetch(version: str, target: Path, suite: str) -> str:
    """Fetch chrony *version* of Debian *suite* into *target*; return the full version."""
    index = _download(f"{MIRROR}/dists/{suite}/main/binary-{ARCH}/Packages.xz")
    packages = parse_packages(lzma.decompress(index).decode())
    chrony = packages.get("chrony")
    if chrony is None or not chrony["Version"].startswith(version + "."):
        found = chrony["Version"] if chrony else "none"
        raise SystemExit(f"{suite} has chrony {found}, not {version}: pick another --suite")
    debs = target / "debs"
    root = target / "root"
    debs.mkdir(parents=True, exist_ok=True)
    root.mkdir(exist_ok=True)
    for name in library_closure(packages, "chrony"):
        fields = packages[name]
        deb = debs / Path(fields["Filename"]).name
        if not deb.exists() or hashlib.sha256(deb.read_bytes()).hexdigest() != fields["SHA256"]:
            data = _download(f"{MIRROR}/{fields['Filename']}")
            if hashlib.sha256(data).hexdigest() != fields["SHA256"]:
                raise SystemExit(f"{deb.name}: SHA256 differs from the {suite} index")
            deb.write_bytes(data)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        print(f"{name} {fields['Version']}")
    for name, program in PROGRAMS.items():
        wrapper = target / name
        wrapper.write_text(_wrapper(root.resolve(), program, name))
        wrapper.chmod(0o755)
    return chrony["Version"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="chrony release, e.g. 4.6")
    parser.add_argument("dir", type=Path, help="where to put the root and the wrappers")
    parser.add_argument("--suite", default="trixie", help="Debian suite (default: trixie)")
    args = parser.parse_args()
    full = fetch(args.version, args.dir, args.suite)
    wrapper = args.dir / "chronyd"
    reported = subprocess.run([str(wrapper), "-v"], capture_output=True, text=True, check=True)
    print(f"chrony {full}: {wrapper} -v says {reported.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
