"""Starting chronyd labs for the integration tests (see conftest.py)."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from typing import Any

import pytest

from pychrony.lab import Lab, LabError, find_chronyd

#: NTP sources of the shared lab (``server`` lines), besides its refclock.
LAB_SOURCES = 4


def start_lab(**kwargs: Any) -> Lab:
    """A started lab; skip (fail in CI) when chronyd is unavailable."""
    if find_chronyd() is None and os.geteuid() != 0:
        message = "chronyd is not installed (apt-get install chrony; ci/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    lab = Lab(**kwargs)
    try:
        return lab.start()
    except LabError as exc:
        pytest.fail(f"the chronyd lab did not start: {exc}")


# -- a lab at chronyd's standard endpoints ---------------------------------------------

#: Where chronyd listens by default, and so where auto-detection looks first.
STANDARD_SOCKET = "/run/chrony/chronyd.sock"
STANDARD_PORT = 323


class StandardLab(Lab):
    """A lab whose client answers at chronyd's standard socket and port 323.

    Both are global to the machine: it refuses to start (LabError) when the socket
    path exists or UDP 127.0.0.1:323 / [::1]:323 is taken, runs only as root (port
    323 and /run), and removes what it created (the socket's directory included)
    when stopped.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._made_run_dir = False

    @property
    def socket_path(self) -> str:
        return STANDARD_SOCKET

    def _pick_ports(self) -> None:
        super()._pick_ports()
        self._cmd_port = STANDARD_PORT

    def start(self, *, wait: bool = True, timeout: float | None = None) -> Lab:
        self._claim()
        try:
            return super().start(wait=wait, timeout=timeout)
        except BaseException:
            self._release()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self._release()

    def _claim(self) -> None:
        if os.geteuid() != 0:
            raise LabError("the standard-endpoint lab needs root (port 323, /run/chrony)")
        run_dir = os.path.dirname(STANDARD_SOCKET)
        if os.path.lexists(STANDARD_SOCKET):
            raise LabError(f"{STANDARD_SOCKET} exists: another chronyd may be using it")
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((host, STANDARD_PORT))
                except OSError as exc:
                    if exc.errno == errno.EADDRNOTAVAIL:
                        continue  # no such address here: nobody can use it either
                    raise LabError(f"UDP {host} port {STANDARD_PORT} is taken: {exc}") from exc
        if not os.path.isdir(run_dir):
            os.mkdir(run_dir, 0o700)  # chronyd wants its socket's directory private
            self._made_run_dir = True

    def _release(self) -> None:
        if not self._made_run_dir:
            return
        run_dir = os.path.dirname(STANDARD_SOCKET)
        # chronyd removes its socket on a clean exit; a crash leaves it.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(STANDARD_SOCKET)
        with contextlib.suppress(OSError):
            os.rmdir(run_dir)
        self._made_run_dir = False


def start_standard_lab() -> StandardLab:
    """A started StandardLab; fails (never skips) when it cannot start: CI runs as root."""
    if os.geteuid() != 0:
        message = "the standard-endpoint lab needs root (ci/test.sh runs as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    lab = StandardLab(sources=2, refclock=False)
    try:
        lab.start()
    except LabError as exc:
        pytest.fail(f"the standard-endpoint chronyd lab did not start: {exc}")
    return lab
