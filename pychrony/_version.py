"""Version of pychrony (3.x: the Cython/pure-Python successor of the 2.x CFFI binding).

The version comes from git tags: setuptools-scm writes it into ``_scm_version.py``
whenever the package is built or installed (``pip install .``, ``pip install -e .``,
``python -m build``); that file is not tracked. A source tree that was never built
(``ci/chrony_lab.py`` straight from a fresh clone) says ``0+unknown``. Read here without
importlib.metadata, which would cost an import of its own at startup.
"""

from __future__ import annotations

import importlib

__all__ = ["__version__"]


def _built_version() -> str:
    try:
        # Imported by name: the module exists only after a build, and mypy checks this
        # file from fresh clones too.
        module = importlib.import_module(f"{__package__}._scm_version")
    except ImportError:
        return "0+unknown"
    return str(module.__version__)


__version__: str = _built_version()
