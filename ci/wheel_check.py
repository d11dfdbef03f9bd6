"""Checks an installed pychrony: where it comes from, its version, its backend.

    python ci/wheel_check.py manylinux [PROJECT]  # native, libchrony bundled by auditwheel
    python ci/wheel_check.py native [PROJECT]     # the extension must be there and load
    python ci/wheel_check.py pure [PROJECT]       # there must be no extension
    ... --chronyd ADDRESS [--backend B]           # and read a real chronyd (a lab's)

Run with the interpreter the wheel or sdist was installed into (cibuildwheel's
test-command through ci/wheel_test.sh, and ci/package_check.sh). It fails when:
pychrony is imported from PROJECT's source tree (default: this checkout) instead of
the installation; ``pychrony.__version__`` is not the installed distribution's
version; with ``native``, ``pychrony._reader_c`` is missing from the package or does
not load (a manylinux wheel without its extension); with ``pure``, an extension
module is in the package or the native backend is chosen. With ``--chronyd``, also
when pychrony (the library, with the backend ``--backend`` chooses, and the installed
``pychrony`` command) cannot read that chronyd or disagrees with ``chronyc``. Prints
what it found.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path


def fail(message: str) -> None:
    raise SystemExit(f"wheel_check: FAIL: {message}")


def chronyc(address: str, command: str) -> list[list[str]]:
    """``chronyc -c -n COMMAND`` over ``address``, as CSV rows."""
    out = subprocess.run(
        ["chronyc", "-h", address, "-c", "-n", command],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return [line.split(",") for line in out.splitlines() if line]


def smoke(address: str, backend: str, expected_backend: str) -> None:
    """Reads ``address`` through the library and the command line; checks with chronyc."""
    import pychrony

    with pychrony.ChronyConnection(address, timeout=2.0, attempts=3, backend=backend) as conn:
        if conn.backend != expected_backend:
            fail(f'backend="{backend}" chose {conn.backend!r}, not {expected_backend!r}')
        tracking = conn.get_tracking()
        sources = conn.get_sources()
        activity = conn.get_activity()
    print(
        f"wheel_check: chronyd at {address} ({conn.backend}): stratum {tracking.stratum}, "
        f"reference {tracking.reference_ip}, offset {tracking.offset:+.3e} s, "
        f"{len(sources)} sources, {activity.online} online"
    )
    reference = chronyc(address, "tracking")[0]
    if (tracking.reference_ip, str(tracking.stratum)) != (reference[1], reference[2]):
        fail(f"tracking {tracking.reference_ip} stratum {tracking.stratum}; chronyc {reference}")
    if sorted(s.address for s in sources) != sorted(r[2] for r in chronyc(address, "sources")):
        fail(f"sources {[s.address for s in sources]} differ from chronyc's")

    command = Path(sys.executable).parent / "pychrony"
    run = subprocess.run(
        [str(command), "-h", address, "--backend", backend, "--json", "tracking"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if run.returncode != 0:
        fail(f"{command} tracking --json exited {run.returncode}: {run.stderr.strip()}")
    printed = json.loads(run.stdout)
    if printed.get("stratum") != tracking.stratum or printed.get("reference_ip") != reference[1]:
        fail(f"pychrony tracking --json printed {printed}")
    print(f"wheel_check: {command} tracking --json: stratum {printed['stratum']}, OK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["manylinux", "native", "pure"])
    parser.add_argument("project", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--chronyd", metavar="ADDRESS", help="also read this chronyd")
    parser.add_argument("--backend", default="auto", choices=["auto", "native", "python"])
    args = parser.parse_args()
    if os.environ.get("PYCHRONY_NO_EXTENSIONS"):
        fail("PYCHRONY_NO_EXTENSIONS is set: the check needs the backend as built")

    import pychrony
    from pychrony import _backend

    package = Path(pychrony.__file__).resolve().parent
    project = Path(args.project).resolve()
    if package.is_relative_to(project):
        fail(f"pychrony imported from the source tree {package}, not from the installation")
    installed = importlib.metadata.version("pychrony")
    if pychrony.__version__ != installed:
        fail(f"pychrony.__version__ is {pychrony.__version__!r}, the distribution {installed!r}")

    modules = sorted(p.name for p in package.glob("_reader_c.*") if p.suffix in (".so", ".pyd"))
    print(f"wheel_check: pychrony {installed} from {package}")
    print(f"wheel_check: extension modules: {modules or 'none'}")
    if args.kind in ("manylinux", "native"):
        if not modules:
            fail(f"no pychrony._reader_c extension module in {package}")
        if _backend.native is None:
            fail(f"the extension does not load: {_backend.NATIVE_UNAVAILABLE_REASON}")
        if not Path(_backend.native.__file__).resolve().is_relative_to(package):
            fail(f"pychrony._reader_c loaded from {_backend.native.__file__}, not {package}")
        if not pychrony.HAS_NATIVE:
            fail("pychrony.HAS_NATIVE is false")
        libchrony = Path(_backend.native.libchrony_path()).resolve()
        print(f"wheel_check: native backend: libchrony {libchrony}")
        bundled = package.parent / "pychrony.libs"
        if args.kind == "manylinux" and not libchrony.is_relative_to(bundled):
            fail(f"libchrony loaded from {libchrony}, not from the wheel's {bundled}")
    else:
        if modules:
            fail(f"a pure installation carries extension modules: {modules}")
        if _backend.native is not None or pychrony.HAS_NATIVE:
            fail("a pure installation loaded a native backend")
        print(f"wheel_check: python backend only ({_backend.NATIVE_UNAVAILABLE_REASON})")
    if args.chronyd:
        expected = args.backend if args.backend != "auto" else _backend_for(args.kind)
        smoke(args.chronyd, args.backend, expected)
    print(f"wheel_check: OK ({args.kind}, Python {sys.version.split()[0]})")


def _backend_for(kind: str) -> str:
    return "python" if kind == "pure" else "native"


if __name__ == "__main__":
    main()
