"""Per-source settings of the derived reports: selectdata, ntpdata, authdata.

Each is optional on a :class:`~pychrony.testing.SourceConfig` (``select=``, ``ntp=``,
``auth=``); a field left None keeps the value derived from the source. Values are
checked against the field registry's wire types and bounds, so a scenario cannot
hold what chronyd could never send.
"""

import dataclasses
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from ..models import AuthMode, KeyType, NTPFlags, NTPMode, SelectOptions, SelectState, Timestamping
from ..registry import REPORTS_BY_NAME, Conv, Field

__all__ = ["AuthConfig", "NTPConfig", "SelectConfig", "check_against_registry", "overrides"]


def _registry_field(report: str, attr: str) -> Field:
    for response in reversed(REPORTS_BY_NAME[report].responses):
        for field in response.fields:
            if field.attr == attr:
                return field
    raise KeyError(f"{report} has no field for {attr!r}")


def check_against_registry(report: str, owner: object) -> None:
    """Raise ValueError for a set value that ``report``'s field could not carry."""
    for item in dataclasses.fields(owner):  # type: ignore[arg-type]
        value = getattr(owner, item.name)
        if value is None:
            continue
        field = _registry_field(report, item.name)
        low, high = field.bounds
        where = f"{report} {item.name}"
        conv = field.conversion
        if field.enum is not None:
            if not isinstance(value, field.enum):
                raise ValueError(f"{where} must be a {field.enum.__name__}, not {value!r}")
        elif conv is Conv.BOOL:
            if not isinstance(value, bool):
                raise ValueError(f"{where} must be True or False, not {value!r}")
        elif conv is Conv.ADDRESS:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{where} must be an IP address, not {value!r}") from None
        elif conv is Conv.FLOAT:
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where} must be a finite number, not {value!r}")
            if low is not None and value < low:
                raise ValueError(f"{where} must be >= {low}, not {value!r}")
        elif not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{where} must be an integer, not {value!r}")
        elif (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{where} must be within {low}..{high}, not {value!r}")


def overrides(config: object | None) -> dict[str, Any]:
    """The fields ``config`` sets (not None), by attribute name."""
    if config is None:
        return {}
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)  # type: ignore[arg-type]
        if getattr(config, f.name) is not None
    }


@dataclass(frozen=True)
class SelectConfig:
    """A source's ``selectdata`` record (chronyd 4.0+); None: derived."""

    state: SelectState | None = None
    authenticated: bool | None = None
    configured_options: SelectOptions | None = None
    effective_options: SelectOptions | None = None
    score: float | None = None
    low_limit: float | None = None
    high_limit: float | None = None

    def __post_init__(self) -> None:
        check_against_registry("selectdata", self)


@dataclass(frozen=True)
class NTPConfig:
    """A source's ``ntpdata`` record (its last NTP exchange); None: derived."""

    local_address: str | None = None
    remote_port: int | None = None
    version: int | None = None
    mode: NTPMode | None = None
    precision: int | None = None
    peer_delay: float | None = None
    peer_dispersion: float | None = None
    response_time: float | None = None
    jitter_asymmetry: float | None = None
    flags: NTPFlags | None = None
    tx_timestamping: Timestamping | None = None
    rx_timestamping: Timestamping | None = None
    tx_messages: int | None = None
    rx_messages: int | None = None
    rx_valid_messages: int | None = None
    rx_good_messages: int | None = None
    kernel_tx_timestamps: int | None = None
    kernel_rx_timestamps: int | None = None
    hw_tx_timestamps: int | None = None
    hw_rx_timestamps: int | None = None

    def __post_init__(self) -> None:
        check_against_registry("ntpdata", self)


@dataclass(frozen=True)
class AuthConfig:
    """A source's ``authdata`` record (symmetric key or NTS); None: derived."""

    mode: AuthMode | None = None
    key_type: KeyType | None = None
    key_id: int | None = None
    key_length: int | None = None
    ke_attempts: int | None = None
    last_ke_ago: int | None = None
    cookies: int | None = None
    cookie_length: int | None = None
    nak: bool | None = None

    def __post_init__(self) -> None:
        check_against_registry("authdata", self)
