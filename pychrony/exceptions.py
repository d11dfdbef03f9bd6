"""Exception hierarchy: every failure pychrony reports is a :class:`ChronyError`."""

from __future__ import annotations

__all__ = [
    "ChronyConnectionError",
    "ChronyDataError",
    "ChronyDisabledError",
    "ChronyError",
    "ChronyLibraryError",
    "ChronyPermissionError",
    "ChronyTimeoutError",
]


class ChronyError(Exception):
    """Base class of every pychrony error.

    ``error_code`` carries the errno or libchrony error code when one exists.
    """

    def __init__(self, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    def __str__(self) -> str:
        if self.error_code is not None:
            return f"{self.message} (error code: {self.error_code})"
        return self.message


class ChronyConnectionError(ChronyError):
    """chronyd cannot be reached: not running, wrong socket, connection closed."""


class ChronyTimeoutError(ChronyConnectionError):
    """chronyd did not answer within the timeout and retries."""


class ChronyPermissionError(ChronyError):
    """chronyd refused us: socket permissions or an unauthorised command."""


class ChronyDataError(ChronyError):
    """A reply or record is malformed, out of range or of an unknown layout."""


class ChronyDisabledError(ChronyDataError):
    """The server does not provide this report (e.g. RTC not tracked)."""


class ChronyLibraryError(ChronyError):
    """The native backend (libchrony extension) is not available."""
