"""Which reader backends this interpreter has: the explicit, inspectable choice.

The C twin (``_reader_c``, built against libchrony) is imported unless
``PYCHRONY_NO_EXTENSIONS`` is set to a true value or the interpreter is not
CPython. ``native`` is that module or None, with the reason in
``NATIVE_UNAVAILABLE_REASON``; the Python twin is always importable.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

__all__ = ["NATIVE_UNAVAILABLE_REASON", "NO_EXTENSIONS", "env_flag", "native"]


def env_flag(name: str) -> bool:
    """True when environment variable ``name`` is set to a true value ("0": false)."""
    value = os.environ.get(name, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


NO_EXTENSIONS = env_flag("PYCHRONY_NO_EXTENSIONS")

native: ModuleType | None
NATIVE_UNAVAILABLE_REASON = ""

if NO_EXTENSIONS:
    native = None
    NATIVE_UNAVAILABLE_REASON = "disabled by PYCHRONY_NO_EXTENSIONS"
elif sys.implementation.name != "cpython":
    native = None
    NATIVE_UNAVAILABLE_REASON = f"not available on {sys.implementation.name}"
else:
    try:
        from . import _reader_c
    except ImportError as exc:
        native = None
        from importlib.machinery import EXTENSION_SUFFIXES

        stem = os.path.join(os.path.dirname(__file__), "_reader_c")
        if not any(os.path.exists(stem + suffix) for suffix in EXTENSION_SUFFIXES):
            NATIVE_UNAVAILABLE_REASON = (
                "extension not built (a pure-Python install: no libchrony when it was built)"
            )
        else:  # libchrony missing at run time, or a build for another interpreter
            NATIVE_UNAVAILABLE_REASON = f"extension cannot be loaded ({exc})"
    else:
        native = _reader_c
