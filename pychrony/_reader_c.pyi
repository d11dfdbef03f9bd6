"""Type stub of the native reader (``_reader_c.pyx``), the C twin of ``_reader_py``."""

from typing import Any

from .registry import Report

__all__ = ["NativeSession", "libchrony_path", "open_session", "read_report"]

class NativeSession:
    """A libchrony session on a socket to chronyd."""

    @property
    def address(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def attempts(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...

def open_session(
    address: str | None = None,
    timeout: float = 1.0,
    attempts: int = 3,
    window: int | None = None,
) -> NativeSession: ...
def read_report(session: NativeSession, report: Report) -> Any: ...
def libchrony_path() -> str: ...
