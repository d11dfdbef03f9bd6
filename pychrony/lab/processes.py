"""The lab's chronyd processes: launching, watching, signalling and stopping them."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .directory import ROLES, LabDir
from .errors import LabError
from .logs import log_tails

__all__ = ["Daemons", "our_chronyd", "terminate", "wait_pid_gone"]


def _pid_alive(pid: int) -> bool:
    """Whether *pid* is running; a zombie waiting for some parent to reap it is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state letter follows the parenthesised command name.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def our_chronyd(pid: int | None, conf: Path) -> bool:
    """True if *pid* is a chronyd running with *conf* (guards against pid reuse)."""
    if not pid:
        return False
    cmdline = _proc_cmdline(pid)
    return bool(cmdline) and str(conf) in cmdline and "chronyd" in os.path.basename(cmdline[0])


def _make_die_with_parent() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` making the child get SIGKILL when its parent dies (Linux).

    Note: the kernel ties this to the *thread* that forked, so a lab started from a
    short-lived thread must use ``die_with_parent=False``.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return preexec


def terminate(pid: int, timeout: float, wait: Callable[[float], bool]) -> None:
    """SIGTERM (+SIGCONT in case it is stopped) *pid*, then SIGKILL after *timeout*."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    if wait(timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait(5.0)


def _wait_popen(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def wait_pid_gone(pid: int, timeout: float) -> bool:
    """Wait up to *timeout* seconds for *pid* (not our child) to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.02)
    return not _pid_alive(pid)


def _chronyd_command(chronyd: str, conf: Path) -> list[str]:
    # -4: IPv4 only (no ::1 command socket); -d: foreground, log to stderr;
    # -x: never touch the clock.
    cmd = [chronyd, "-4", "-d", "-x"]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]
    else:
        cmd += ["-U", "-u", pwd.getpwuid(os.geteuid()).pw_name]
    return [*cmd, "-f", str(conf)]


class Daemons:
    """The server and client chronyd of one lab, children of this process."""

    def __init__(self, die_with_parent: bool) -> None:
        self._die_with_parent = die_with_parent
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        #: Every client chronyd started (restarts too): whose SHM segments to remove.
        self.client_pids: set[int] = set()

    def launch(self, role: str, chronyd: str, layout: LabDir) -> None:
        """Start *role*'s chronyd (``-x``: never the clock), logging to its log file."""
        with open(layout.log(role), "ab") as log:
            proc = subprocess.Popen(
                _chronyd_command(chronyd, layout.conf(role)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=layout.base,
                start_new_session=True,
                preexec_fn=_make_die_with_parent() if self._die_with_parent else None,
            )
        self._procs[role] = proc
        if role == "client":
            self.client_pids.add(proc.pid)

    def pid(self, role: str) -> int | None:
        """Pid of *role*'s chronyd, or None if it is not running."""
        proc = self._procs.get(role)
        return proc.pid if proc is not None and proc.poll() is None else None

    def check_alive(self, layout: LabDir) -> None:
        """Raise LabError (with the log tails) unless both daemons are running."""
        for role in ROLES:
            proc = self._procs.get(role)
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise LabError(f"{role} chronyd is not running (exit {code})\n{log_tails(layout)}")

    def stop(self, timeout: float) -> None:
        """SIGTERM both (client first), SIGKILL after *timeout*; forget them."""
        for role in reversed(ROLES):
            proc = self._procs.get(role)
            if proc is not None and proc.poll() is None:
                terminate(proc.pid, timeout, functools.partial(_wait_popen, proc))
        self._procs.clear()

    def signal_client(self, sig: int) -> None:
        """Send *sig* to the running client chronyd.

        Raises:
            LabError: the client is not running.
        """
        pid = self.pid("client")
        if pid is None:
            raise LabError("the client chronyd is not running")
        os.kill(pid, sig)

    def kill_client(self, sig: int, timeout: float) -> None:
        """Send *sig* (+SIGCONT) to the client and reap it, SIGKILL after *timeout*."""
        proc = self._procs.get("client")
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        if not _wait_popen(proc, timeout):
            proc.kill()
            proc.wait()
