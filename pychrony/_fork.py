"""Sessions and ``fork()``: what a forked child inherits, and what it must leave alone.

A child of ``fork()`` gets copies of its parent's sockets: using one would read
the parent's replies (and the parent the child's), and closing it must not
remove the reply socket file the parent still binds. So every session is
told, in the child, that it was inherited (:func:`track`, through
``os.register_at_fork``: nothing on the hot path of a call); it then closes its
copies without touching the parent's files and opens its own socket on its
next call. The native backend counts forks in C (``pthread_atfork``) and
compares that count with the one it was opened under.

A ``multiprocessing`` child ends with ``os._exit()``: no ``atexit`` hook, no
garbage collection. :func:`clean_up_at_exit` has multiprocessing's own exit
hook remove what a session there created.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable
from typing import Protocol

__all__ = ["clean_up_at_exit", "track"]


class _Inheritable(Protocol):
    def forked(self) -> None:
        """Called in a forked child: the session's sockets are its parent's."""


_live: weakref.WeakSet[_Inheritable] = weakref.WeakSet()


def track(session: _Inheritable) -> None:
    """Have ``session.forked()`` called in every child forked while it lives."""
    _live.add(session)


def _after_fork_in_child() -> None:
    for session in list(_live):
        session.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def clean_up_at_exit(owner: object, cleanup: Callable[[], object]) -> None:
    """In a ``multiprocessing`` child, call ``cleanup`` when it exits unless
    ``owner`` was freed before (``cleanup`` must not refer to ``owner``)."""
    process = sys.modules.get("multiprocessing.process")
    util = sys.modules.get("multiprocessing.util")
    if process is None or util is None or process.parent_process() is None:
        return
    util.Finalize(owner, cleanup, exitpriority=0)
