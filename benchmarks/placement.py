"""Where the benchmarks' processes run: CPU placement on a small machine.

On a 2-CPU VM a timing can change 2-3x with where chronyd and its client land,
so the suites pin them and their tables say which placement a figure is for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: The peer comparison: chronyd (server and client daemons of the lab) on one CPU,
#: every contender (and what it spawns, chronyc included) on the other.
CHRONYD_CPU = 1
CLIENT_CPU = 0


def cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return os.sched_getaffinity(0)
    except (OSError, AttributeError):
        return set()


#: The CPUs allowed when the suites started (a pinned moment must not change the answer
#: of :func:`can_pin`: the peer comparison starts its workers while pinned to chronyd's).
_START_CPUS = frozenset(cpus())


def can_pin() -> bool:
    """Whether this run started with the two CPUs the placements use."""
    return {CHRONYD_CPU, CLIENT_CPU} <= _START_CPUS


def pin(cpu: int) -> None:
    """Run this process (and what it starts afterwards) on ``cpu`` only."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """:func:`pin` for a while: the CPUs allowed before come back afterwards (the
    suites that run later in the same process must not inherit one CPU)."""
    before = cpus()
    pin(cpu)
    try:
        yield
    finally:
        if before:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, before)


def placement() -> str:
    """The peer comparison's placement, as its table states it."""
    if not can_pin():
        return "unpinned (fewer than 2 CPUs)"
    return f"chronyd pinned to CPU {CHRONYD_CPU}, every contender to CPU {CLIENT_CPU}"
