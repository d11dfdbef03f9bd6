"""Build of pychrony's optional native extension (the metadata is in pyproject.toml).

The extension ``pychrony._reader_c`` wraps libchrony. It is found by
``pkg-config libchrony`` or by ``PYCHRONY_LIBCHRONY_INCLUDE`` /
``PYCHRONY_LIBCHRONY_LIB``. Without libchrony (or with ``PYCHRONY_NO_EXTENSIONS=1``)
the pure-Python package is installed, with a one-line notice;
``PYCHRONY_REQUIRE_EXTENSIONS=1`` (set by CI and wheel builds, as is ``CIBUILDWHEEL=1``)
turns a missing libchrony or a failed compile into an error. Packing the sdist (and
writing metadata) never looks for libchrony: the sdist carries the ``.pyx``, not C.
The version comes from git tags through setuptools-scm (``[tool.setuptools_scm]``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def env_flag(name: str) -> bool:
    """True when ``name`` is set to a true value ("0", "false", "no", "off": false)."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


NO_EXTENSIONS = env_flag("PYCHRONY_NO_EXTENSIONS") or sys.implementation.name != "cpython"
REQUIRE_EXTENSIONS = env_flag("PYCHRONY_REQUIRE_EXTENSIONS") or env_flag("CIBUILDWHEEL")
# setup.py commands that only pack sources or write metadata, and those that build.
SOURCE_ONLY_COMMANDS = {"sdist", "egg_info", "dist_info"}
BUILD_COMMANDS = {"build", "build_ext", "build_py", "bdist_wheel", "editable_wheel", "develop"}
# Library directories the system's loader searches anyway: no rpath for them.
SYSTEM_LIB_PREFIXES = ("/usr/lib", "/lib", "/usr/local/lib")


def notice(message: str) -> None:
    print(f"pychrony: {message}", file=sys.stderr)


def fail(message: str) -> None:
    raise SystemExit(f"pychrony: {message} (PYCHRONY_REQUIRE_EXTENSIONS is set)")


def libchrony_flags() -> dict[str, list[str]] | None:
    """Compiler and linker settings for libchrony, or None when it is not found."""
    include = os.environ.get("PYCHRONY_LIBCHRONY_INCLUDE")
    lib = os.environ.get("PYCHRONY_LIBCHRONY_LIB")
    if include or lib:
        return {
            "include_dirs": [include] if include else [],
            "library_dirs": [lib] if lib else [],
            "libraries": ["chrony"],
        }
    try:
        out = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libchrony"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    flags: dict[str, list[str]] = {"include_dirs": [], "library_dirs": [], "libraries": []}
    for arg in shlex.split(out):
        for prefix, key in (("-I", "include_dirs"), ("-L", "library_dirs"), ("-l", "libraries")):
            if arg.startswith(prefix):
                flags[key].append(arg[len(prefix) :])
                break
    return flags


class OptionalBuildExt(build_ext):
    """build_ext that degrades to the pure-Python package unless extensions are required."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        if REQUIRE_EXTENSIONS:
            raise
        notice(f"building the libchrony extension failed ({exc}); installing pure Python only")


def packing_sources_only() -> bool:
    """True when this run of setup.py only packs the sdist or writes metadata."""
    args = set(sys.argv[1:])
    return bool(args & SOURCE_ONLY_COMMANDS) and not args & (BUILD_COMMANDS | {"install"})


def extensions() -> list[Extension]:
    if packing_sources_only():
        return []
    if NO_EXTENSIONS:
        notice("PYCHRONY_NO_EXTENSIONS is set: installing pure Python only")
        return []
    flags = libchrony_flags()
    if flags is None:
        if REQUIRE_EXTENSIONS:
            fail("libchrony not found by pkg-config nor PYCHRONY_LIBCHRONY_INCLUDE/_LIB")
        notice("libchrony not found (pkg-config libchrony): installing pure Python only")
        return []
    rpath = [d for d in flags["library_dirs"] if not d.startswith(SYSTEM_LIB_PREFIXES)]
    ext = Extension(
        "pychrony._reader_c",
        ["pychrony/_reader_c.pyx"],
        runtime_library_dirs=rpath,
        **flags,
    )
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_EXTENSIONS:
            fail("Cython is needed to build the extension")
        notice("Cython not installed: installing pure Python only")
        return []
    try:
        return list(cythonize([ext], quiet=True))
    except Exception as exc:  # a Cython compile error
        if REQUIRE_EXTENSIONS:
            raise
        notice(f"cythonizing the extension failed ({exc}); installing pure Python only")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
