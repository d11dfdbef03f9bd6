"""Faults a scripted chronyd can show: silence, late or lost replies, bad bytes, restarts.

A fault belongs to a scenario (``ChronyStateConfig.faults``), so a timeline step
can turn one on and a later step off. The fake server (:mod:`pychrony.protocol.server`)
acts them out on the wire; the mock session shows what pychrony's client makes of
them (a timeout within the connection's bound, a data error, a permission error).
"""

import math
from dataclasses import dataclass
from enum import Enum

__all__ = ["Fault", "FaultKind"]


class FaultKind(Enum):
    """What goes wrong."""

    HUNG = "hung"  # no reply at all: the client times out
    LATE = "late"  # every reply is sent ``value`` seconds late
    DROP_EVERY = "drop_every"  # every ``value``-th reply is lost (the client resends)
    GARBAGE = "garbage"  # random bytes instead of a reply (a client ignores them)
    TRUNCATED = "truncated"  # the reply cut to ``value`` bytes (header kept when >= 28)
    RESTART = "restart"  # the socket is removed and made anew when the step starts
    PERMISSION = "permission"  # the socket's mode becomes ``value`` (e.g. 0o600)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault; build it with the class methods (``Fault.hung()`` …)."""

    kind: FaultKind
    value: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError(f"{self.kind.value}: value must be a non-negative number")
        if self.kind is FaultKind.DROP_EVERY and (self.value < 1 or self.value % 1):
            raise ValueError("drop_every needs a whole number k >= 1 (1 drops every reply)")
        if self.kind is FaultKind.PERMISSION and not 0 <= self.value <= 0o777:
            raise ValueError("permission needs a file mode 0o000-0o777")

    @classmethod
    def hung(cls) -> "Fault":
        """chronyd stops answering (a SIGSTOP, a deadlock)."""
        return cls(FaultKind.HUNG)

    @classmethod
    def late(cls, seconds: float) -> "Fault":
        """Every reply leaves ``seconds`` after its request came."""
        return cls(FaultKind.LATE, seconds)

    @classmethod
    def drop_every(cls, k: int) -> "Fault":
        """Every ``k``-th reply is lost."""
        return cls(FaultKind.DROP_EVERY, k)

    @classmethod
    def garbage(cls) -> "Fault":
        """Replies are random bytes."""
        return cls(FaultKind.GARBAGE)

    @classmethod
    def truncated(cls, length: int = 40) -> "Fault":
        """Replies are cut to ``length`` bytes."""
        return cls(FaultKind.TRUNCATED, length)

    @classmethod
    def restart(cls) -> "Fault":
        """chronyd restarts: its socket is removed and bound again."""
        return cls(FaultKind.RESTART)

    @classmethod
    def permission(cls, mode: int = 0o000) -> "Fault":
        """The socket's permissions change to ``mode`` (a ``chmod``)."""
        return cls(FaultKind.PERMISSION, mode)
