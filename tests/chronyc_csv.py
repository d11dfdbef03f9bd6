"""How ``chronyc -c -n`` prints pychrony's values (shared by the lab and fake tests)."""

from __future__ import annotations

from typing import Any

from pychrony.models import (
    LeapStatus,
    NTPMode,
    SelectOptions,
    SourceMode,
    SourceState,
    Timestamping,
)

LEAP = {
    LeapStatus.NORMAL: "Normal",
    LeapStatus.INSERT: "Insert second",
    LeapStatus.DELETE: "Delete second",
    LeapStatus.UNSYNC: "Not synchronised",
}
MODE_CHAR = {SourceMode.CLIENT: "^", SourceMode.PEER: "=", SourceMode.REFCLOCK: "#"}
STATE_CHAR = {
    SourceState.SELECTED: "*",
    SourceState.NONSELECTABLE: "?",
    SourceState.FALSETICKER: "x",
    SourceState.JITTERY: "~",
    SourceState.UNSELECTED: "+",
    SourceState.SELECTABLE: "-",
}
NTP_MODE = {
    NTPMode.ACTIVE_SYMMETRIC: "Symmetric active",
    NTPMode.PASSIVE_SYMMETRIC: "Symmetric passive",
    NTPMode.SERVER: "Server",
}
TIMESTAMPING = {Timestamping.DAEMON: "Daemon", Timestamping.KERNEL: "Kernel"}
TIMESTAMPING[Timestamping.HARDWARE] = "Hardware"


def f9(value: float) -> str:
    return f"{value:.9f}"


def f3(value: float) -> str:
    return f"{value:.3f}"


def options(value: SelectOptions) -> list[str]:
    """selectdata's option columns: N, P, T, R and one chrony adds after 4.3."""
    letters = [(SelectOptions.NOSELECT, "N"), (SelectOptions.PREFER, "P")]
    letters += [(SelectOptions.TRUST, "T"), (SelectOptions.REQUIRE, "R")]
    return [letter if value & flag else "-" for flag, letter in letters] + ["-"]


#: authdata's mode column.
AUTH_MODE = {0: "-", 1: "SK", 2: "NTS"}


def authdata_numbers(a: Any) -> list[int]:
    """authdata's numeric columns (2-9) for an AuthData record."""
    return [
        a.key_id,
        a.key_type.value,
        a.key_length,
        a.last_ke_ago,
        a.ke_attempts,
        int(a.nak),
        a.cookies,
        a.cookie_length,
    ]
