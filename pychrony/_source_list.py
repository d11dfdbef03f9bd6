"""Reading a list that chronyd may change meanwhile (``chronyc add``/``delete``, a restart).

A multi-record report is read as a count, then records by index. chronyd keeps
its sources in an array: a new one is appended, a removed one closes the gap
by shifting every later one down (chrony ``sources.c``, ``SRC_DestroyInstance``).
So both readers request the records **from the last index down**, and chronyd
answers one socket's requests in the order it received them. Then a removal
under the read either leaves the part still to be read unchanged (the list
read is the one counted) or shifts into it a source already read: it is
listed twice. Additions land past the counted indexes. A read is therefore
read again, from the count, when it saw

- a source listed twice (:func:`duplicate_sources`; chronyd takes one NTP source
  per IP address, ``ntp_sources.c`` ``NSR_AddSource``);
- a counted record gone ("no such source": removed before it was read);
- a reconnect (a restarted chronyd, perhaps with another configuration);
- a request resent or moved to another socket (the order is lost): unless the
  count, asked again, is still the same.

After :data:`LIST_READS` reads that each saw a change it raises
:func:`list_changed_error`.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Final

from .exceptions import ChronyDataError
from .models import SourceMode

__all__ = ["LIST_READS", "SOURCE_ATTR", "duplicate_sources", "list_changed_error"]

#: Reads of a multi-record report before giving up on a list that keeps changing:
#: one and three retries, as pychrony 2.0.3.
LIST_READS: Final = 4

_REFCLOCK: Final = SourceMode.REFCLOCK
#: The attribute naming each record's source, per list report.
SOURCE_ATTR: Final = {
    "sources": "address",
    "sourcestats": "address",
    "selectdata": "address",
    "ntpdata": "remote_address",
    "authdata": "address",
}
_GETTERS: Final = {report: attrgetter(attr) for report, attr in SOURCE_ATTR.items()}


def duplicate_sources(report: str, records: list[Any]) -> bool:
    """True when ``records`` list one NTP source twice (refclocks, named by their
    reference ID, may share one: they are not counted)."""
    if len(records) < 2:
        return False
    getter = _GETTERS.get(report)
    if getter is None:
        return False
    names = list(map(getter, records))
    if len(set(names)) == len(names):  # the common case
        return False
    if report == "sources":
        addresses = [r.address for r in records if r.mode is not _REFCLOCK and r.address]
    else:  # a refclock's name is its reference ID: never an address but in
        # a config that gives it non-ASCII bytes (shown as a dotted quad)
        addresses = [name for name in names if ":" in name or name.count(".") == 3]
    return len(set(addresses)) != len(addresses)


def list_changed_error(report: str) -> ChronyDataError:
    """The error of a read whose source list changed under each of its attempts."""
    return ChronyDataError(
        f"{report}: chronyd's source list changed while it was read, {LIST_READS} times "
        "in a row (sources being added or removed, or chronyd restarting); try again"
    )
