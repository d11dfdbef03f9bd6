"""Mapping of low-level failures to pychrony's exceptions, with helpful messages."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

from .exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
    ChronyTimeoutError,
)

__all__ = [
    "LIBCHRONY_REPLY_SUFFIX",
    "SUN_PATH_MAX",
    "FieldRef",
    "LibchronyError",
    "auto_detect_error",
    "bad_nanoseconds",
    "libchrony_error",
    "missing_field",
    "not_finite",
    "open_error",
    "out_of_range",
    "path_length_error",
    "reply_dir_error",
    "status_error",
    "timeout_error",
    "unknown_value",
]

#: Longest Unix socket path: ``sun_path`` holds 108 bytes with the terminating NUL.
SUN_PATH_MAX = 107
#: What libchrony adds to the directory of chronyd's socket for its reply socket:
#: ``/libchrony.`` + 12 random characters + ``/`` + 16 random + ``/sock`` (socket.c).
LIBCHRONY_REPLY_SUFFIX = 11 + 12 + 1 + 16 + 5


class LibchronyError:
    """libchrony's ``chrony_err`` codes (shared by the native reader and the mocks)."""

    OK = 0
    NO_MEMORY = 1
    NO_RANDOM = 2
    UNKNOWN_REPORT = 3
    RANDOM_FAILED = 4
    SEND_FAILED = 5
    RECV_FAILED = 6
    INVALID_ARGUMENT = 7
    UNEXPECTED_CALL = 8
    UNAUTHORIZED = 9
    DISABLED = 10
    UNEXPECTED_STATUS = 11
    OLD_SERVER = 12
    NEW_SERVER = 13
    INVALID_RESPONSE = 14


_PERMISSION_HINT = (
    "chronyd's Unix socket is its control channel, writable only by root or chronyd's "
    "user (joining chronyd's group does not help). For monitoring use its command port, "
    'which serves every report pychrony reads: ChronyConnection("127.0.0.1") (chronyd '
    'listens on 127.0.0.1 and ::1 port 323 unless "cmdport 0")'
)


def path_length_error(path: str, reply_suffix: int) -> ChronyConnectionError | None:
    """The error for a socket ``path`` too long for a Unix socket address, or, when
    ``path`` is a socket, whose directory leaves no room for a reply socket
    ``reply_suffix`` bytes longer beside it; None when both fit. (A path that is
    no socket fails at connecting, as in libchrony.)"""
    length = len(os.fsencode(path))
    if length > SUN_PATH_MAX:
        return ChronyConnectionError(
            f"chronyd socket path is too long for a Unix socket ({length} bytes, at most "
            f"{SUN_PATH_MAX}): {path}",
            -errno.ENAMETOOLONG,
        )
    directory = len(os.fsencode(os.path.dirname(path)))
    longest = SUN_PATH_MAX - reply_suffix
    if directory <= longest or not _is_socket(path):
        return None
    return ChronyConnectionError(
        f"chronyd socket path is too long to bind a reply socket beside it: its directory "
        f"has {directory} bytes, at most {longest} fit (a Unix socket address holds "
        f"{SUN_PATH_MAX} bytes, the reply socket's name takes {reply_suffix}): {path}",
        -errno.ENAMETOOLONG,
    )


def _is_socket(path: str) -> bool:
    import stat

    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def reply_dir_error(path: str) -> ChronyPermissionError:
    """The error for a directory of chronyd's socket ``path`` where the client may
    not create its reply socket (the socket itself is accessible)."""
    return ChronyPermissionError(
        f"Permission denied creating the client's reply socket beside chronyd's socket in "
        f"{os.path.dirname(path)}: chronyd's socket is accessible, but like chronyc a "
        "client binds its reply socket in that directory and needs write permission there "
        "(run as root or as chronyd's user), or use UDP (127.0.0.1) for the monitoring reports",
        -errno.EACCES,
    )


def _socket_accessible(path: str) -> bool:
    """Whether an unbound datagram socket may connect to ``path``."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def open_error(address: str, code: int) -> ChronyError:
    """The exception for failing to open a session to ``address`` (``code``: -errno)."""
    err = abs(code)
    reason = os.strerror(err) if err else "unknown error"
    if err in (errno.EACCES, errno.EPERM):
        if address.startswith("/") and _socket_accessible(address):
            return reply_dir_error(address)  # libchrony's mkdir() was refused
        return ChronyPermissionError(
            f"Permission denied connecting to {address}: {_PERMISSION_HINT}", code
        )
    return ChronyConnectionError(
        f"Failed to connect to {address} ({reason}). Is chronyd running, and is this its "
        "command socket or address?",
        code,
    )


def libchrony_error(code: int, report: str, stage: str, detail: str = "") -> ChronyError:
    """The exception for a libchrony error ``code`` while ``stage`` of ``report``.

    ``detail`` (what exactly chronyd said, when known) is appended in parentheses.
    """
    e = LibchronyError
    # pychrony 2.x's leading phrases, which its users match on.
    where = f"request {report} report" if stage == "requesting" else f"process {report} response"
    note = f" ({detail})" if detail else ""
    if code == e.UNAUTHORIZED:
        return ChronyPermissionError(
            f"chronyd refused {report}: not authorised (over UDP only monitoring "
            "commands are open; use the Unix socket, or from chrony 4.7 on chronyd's "
            "'opencommands' directive, which older versions reject as invalid)" + note,
            code,
        )
    if code == e.DISABLED:
        return ChronyDisabledError(f"chronyd does not provide {report} (disabled){note}", code)
    if code in (e.SEND_FAILED, e.RECV_FAILED):
        return ChronyConnectionError(
            f"Failed to {where}: lost the connection to chronyd{note}", code
        )
    if code == e.INVALID_RESPONSE:
        return ChronyDataError(
            f"{report}: chronyd's reply is malformed (truncated or corrupted){note}", code
        )
    if code == e.NEW_SERVER:
        return ChronyDataError(f"{report}: chronyd is newer than pychrony supports{note}", code)
    if code == e.OLD_SERVER:
        return ChronyDataError(f"{report}: chronyd is too old to provide it{note}", code)
    return ChronyDataError(f"Failed to {where}{note}", code)


# chronyd's status codes (candm.h STT_*) -> (libchrony error, what chronyd meant).
_STATUS = {
    2: (LibchronyError.UNAUTHORIZED, ""),
    3: (LibchronyError.OLD_SERVER, "chronyd does not know this request"),
    6: (LibchronyError.DISABLED, ""),
    13: (LibchronyError.DISABLED, "no RTC is tracked"),
    18: (LibchronyError.NEW_SERVER, "chronyd rejected protocol version 6"),
    19: (LibchronyError.NEW_SERVER, "chronyd expects longer requests"),
}


def status_error(status: int, report: str, since: str | None = None) -> ChronyError:
    """The exception for a reply with chronyd status ``status`` (not success) to ``report``.

    Codes follow libchrony's mapping, so both backends raise the same errors;
    ``since`` (first chronyd version with the report) completes "too old".
    """
    code, detail = _STATUS.get(
        status, (LibchronyError.UNEXPECTED_STATUS, f"unexpected chronyd status {status}")
    )
    if code == LibchronyError.OLD_SERVER and since:
        detail += f"; it needs chronyd {since} or newer"
    return libchrony_error(code, report, "reading", detail)


def timeout_error(address: str, what: str, timeout: float, attempts: int) -> ChronyTimeoutError:
    """The exception for chronyd at ``address`` not answering ``what`` in time.

    chronyd always answers 127.0.0.1 and ::1, and silently ignores requests from
    any other host its ``cmdallow`` does not cover: over UDP to another address
    the message names the local address chronyd sees us as.
    """
    local = _udp_source_address(address)
    if "/" in address:  # a Unix socket: cmdallow does not apply
        hint = "Is chronyd running, or stopped or overloaded?"
    elif local is None:
        hint = "Is chronyd running and listening there (cmdport, bindcmdaddress)?"
    else:
        hint = (
            f"Is chronyd running there? chronyd silently ignores hosts its cmdallow does "
            f"not cover: does it allow {local} (this host's address towards it)? "
            f"chrony.conf: cmdallow {local}"
        )
    return ChronyTimeoutError(
        f"Failed to process {what} response: chronyd at {address} did not answer within "
        f"{timeout * attempts:g} s ({attempts} attempts of {timeout:g} s). {hint}",
        -errno.ETIMEDOUT,
    )


def _udp_source_address(address: str) -> str | None:
    """Our address as seen by chronyd at UDP ``address``; None for loopback, Unix, unknown."""
    import ipaddress  # here: only timeouts need them, and they cost import time
    import socket

    from ._address import parse_address

    try:
        endpoint = parse_address(address)
    except ChronyError:
        return None
    if endpoint.host is None or ipaddress.ip_address(endpoint.host).is_loopback:
        return None
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((endpoint.host, endpoint.port))  # sends nothing: picks a route
        return str(probe.getsockname()[0])
    return None


def auto_detect_error(failures: Sequence[tuple[str, ChronyError]]) -> ChronyError:
    """The exception when auto-detection connected to none of its candidates.

    ``failures``: each candidate tried, in order, with what it raised. The message
    names each on a line of its own with the reason; when a socket refused us
    (ChronyPermissionError, as pychrony 2.x raises) the way round it comes once.
    """
    tried = "\n".join(f"  {address}: {_short_reason(exc)}" for address, exc in failures)
    denied = [exc for _, exc in failures if isinstance(exc, ChronyPermissionError)]
    message = f"Failed to connect to chronyd (auto-detect). Tried:\n{tried}\n"
    if denied:
        return ChronyPermissionError(message + _PERMISSION_HINT, denied[0].error_code)
    return ChronyConnectionError(
        message + "Is chronyd running? Pass its socket path or address if it listens elsewhere",
        failures[0][1].error_code if failures else None,
    )


def _short_reason(exc: ChronyError) -> str:
    """Why one candidate failed, in a few words (the first sentence, or errno's text)."""
    if isinstance(exc, ChronyTimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ChronyPermissionError):
        return "Permission denied"
    code = exc.error_code
    if code is not None and code < 0:
        return os.strerror(-code)
    return exc.message.split(". ")[0]


# -- values out of bounds: both readers raise these, beginning as pychrony 2.x did ------


class FieldRef(NamedTuple):
    """A record field named in data errors: its attribute and where it comes from."""

    attr: str  # "stratum"
    where: str  # "tracking field 'stratum'"

    @classmethod
    def of(cls, report: str, name: str, attr: str | None) -> FieldRef:
        """The field ``name`` (libchrony's) of ``report``, read into ``attr``."""
        return cls(attr or name, f"{report} field {name!r}")


def out_of_range(ref: FieldRef, value: Any, low: Any, high: Any) -> ChronyDataError:
    """A value outside the registry's bounds."""
    return ChronyDataError(
        f"Invalid {ref.attr}: {value!r} ({ref.where} is out of range [{low}, {high}])"
    )


def not_finite(ref: FieldRef, value: float) -> ChronyDataError:
    """A NaN or infinite float."""
    return ChronyDataError(f"Invalid {ref.attr}: {value!r} ({ref.where} is not a finite number)")


def bad_nanoseconds(ref: FieldRef, nsec: int) -> ChronyDataError:
    """A timespec whose nanoseconds are not below 10**9."""
    return ChronyDataError(f"Invalid {ref.attr}: {ref.where} has {nsec} nanoseconds")


def unknown_value(ref: FieldRef, value: int) -> ChronyDataError:
    """An enumerated value pychrony does not know."""
    return ChronyDataError(
        f"Unknown {ref.attr} value {value} ({ref.where}; a chronyd newer than pychrony?)"
    )


def missing_field(report: str, name: str) -> ChronyDataError:
    """A field the registry needs that chronyd's reply (its layout) lacks."""
    return ChronyDataError(
        f"Field {name!r} not found in chronyd's {report} reply (a chronyd older than "
        "pychrony supports?)"
    )
