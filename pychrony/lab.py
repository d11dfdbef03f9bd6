"""A throw-away pair of real chronyd daemons on loopback, for tests and benchmarks.

The lab runs two chronyd processes that belong to us (``subprocess.Popen``), both with
``-x`` so neither ever touches the system clock:

* a **server** answering NTP on ``127.0.0.1:<free port>`` from its ``local`` clock;
* a **client** polling that server (plus ``sources - 1`` unreachable loopback servers
  and, optionally, a ``noselect`` SHM refclock), answering chronyc on a Unix socket
  inside the lab directory and on ``127.0.0.1:<free UDP port>``.

Everything the daemons write (config, logs, pidfiles, drift and dump files, command
sockets) lives in the lab directory; nothing under ``/run/chrony`` or
``/var/lib/chrony`` is used, so several labs can run side by side.

Use it as a module::

    from pychrony.lab import Lab

    with Lab(sources=8) as lab:
        print(lab.socket_path, lab.udp_address)
        print(lab.chronyc("sources"))

or as a script (stdlib only, Python 3.10+; ``pychrony lab`` uses it too)::

    python3 ci/chrony_lab.py start --dir /tmp/lab      # prints the lab's JSON state
    python3 ci/chrony_lab.py status --dir /tmp/lab
    python3 ci/chrony_lab.py stop --dir /tmp/lab
    python3 ci/chrony_lab.py run --sources 8 -- pytest tests/integration

``run`` exports ``PYCHRONY_LAB_SOCKET``, ``PYCHRONY_LAB_UDP`` and ``PYCHRONY_LAB_DIR``
to the command and returns its exit code.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import ctypes.util
import functools
import ipaddress
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_DIR",
    "ENV_SOCKET",
    "ENV_UDP",
    "Lab",
    "LabError",
    "ensure_chrony",
    "find_chronyc",
    "find_chronyd",
    "status_lab_dir",
    "stop_lab_dir",
]

#: Environment variable holding the client's Unix command socket path.
ENV_SOCKET = "PYCHRONY_LAB_SOCKET"
#: Environment variable holding the client's UDP command address, ``"127.0.0.1:PORT"``.
ENV_UDP = "PYCHRONY_LAB_UDP"
#: Environment variable holding the lab directory.
ENV_DIR = "PYCHRONY_LAB_DIR"

#: Name of the JSON state file the CLI writes into the lab directory.
STATE_FILE = "lab.json"

LOOPBACK = "127.0.0.1"
#: Unreachable sources get addresses from 127.0.1.1 upwards (nothing listens there).
_UNREACHABLE_BASE = ipaddress.IPv4Address("127.0.1.0")
#: SysV shared-memory key of NTP SHM unit 0 ("NTP0"); unit N uses this plus N.
_SHM_KEY_BASE = 0x4E545030
#: Longest usable ``sun_path`` (108 bytes with the terminating NUL).
_SUN_PATH_MAX = 107
#: Room chronyc needs next to the daemon socket: it binds ``chronyc.<pid>.sock`` there.
_CHRONYC_SOCK_NAME = "chronyc.4194304.sock"

_DEFAULT_CLI_DIR = os.path.join(tempfile.gettempdir(), "pychrony-lab")


class LabError(RuntimeError):
    """The lab could not be set up, started, or reached."""


class _PortClash(LabError):
    """A daemon could not bind a port picked for it (someone took it meanwhile)."""


#: chronyd log lines meaning a socket we configured is not there (it carries on).
_SOCKET_FAILURES = (
    "Could not open NTP socket",
    "Could not open command socket",
    "Disabled command socket",
)


# ----------------------------------------------------------------------------------
# Finding / installing chrony
# ----------------------------------------------------------------------------------


def _find_program(name: str, *candidates: str) -> str | None:
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        # sbin is often missing from a non-root PATH.
        found = shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    return found


def find_chronyd() -> str | None:
    """Return the path of the ``chronyd`` executable, or None if it is not installed."""
    return _find_program("chronyd", "/usr/sbin/chronyd")


def find_chronyc() -> str | None:
    """Return the path of the ``chronyc`` executable, or None if it is not installed."""
    return _find_program("chronyc", "/usr/bin/chronyc")


def _systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system") and shutil.which("systemctl") is not None


def _apt_install_chrony() -> None:
    """Install the Debian ``chrony`` package without letting it start a service.

    A temporary ``/usr/sbin/policy-rc.d`` answering 101 ("action forbidden") stops
    ``invoke-rc.d`` and ``deb-systemd-invoke`` from starting chronyd during install.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# written by ci/chrony_lab.py during install\nexit 101\n")
        policy.chmod(0o755)
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    try:
        for command in (
            ["apt-get", *lock_wait, "update"],
            ["apt-get", *lock_wait, "install", "-y", "--no-install-recommends", "chrony"],
        ):
            if subprocess.run(command, env=env, check=False).returncode != 0:
                raise LabError(f"'{' '.join(command)}' failed; install chrony by hand")
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if _systemd_running():
        # Belt and braces: never leave a system chronyd enabled or running.
        for unit in ("chrony.service", "chronyd.service"):
            subprocess.run(
                ["systemctl", "disable", "--now", unit],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def ensure_chrony() -> tuple[str, str]:
    """Make sure chronyd and chronyc are available; return their paths.

    If they are missing and we are root on a Debian-like system, install the
    ``chrony`` package with apt-get, keeping its system service stopped and disabled
    (the lab only ever runs its own chronyd processes). A system chronyd that was
    already running before is left alone: the lab does not share any port, socket,
    file or SHM segment with it.

    Raises:
        LabError: chrony is missing and cannot be installed here.
    """
    chronyd, chronyc = find_chronyd(), find_chronyc()
    if chronyd and chronyc:
        return chronyd, chronyc
    if os.geteuid() != 0:
        raise LabError(
            "chronyd/chronyc not found. Install the 'chrony' package "
            "(e.g. 'sudo apt-get install chrony') or run this as root to let "
            "ci/chrony_lab.py install it."
        )
    if shutil.which("apt-get") is None:
        raise LabError("chronyd/chronyc not found and apt-get is unavailable: install chrony")
    _apt_install_chrony()
    chronyd, chronyc = find_chronyd(), find_chronyc()
    if not (chronyd and chronyc):
        raise LabError("apt-get install chrony finished but chronyd/chronyc are still missing")
    return chronyd, chronyc


# ----------------------------------------------------------------------------------
# Small OS helpers
# ----------------------------------------------------------------------------------


def _free_udp_port(host: str = LOOPBACK, taken: set[int] | None = None) -> int:
    """Return a UDP port nobody is bound to on *host* (and not in *taken*)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if taken is None or port not in taken:
            return port
    raise LabError(f"could not find a free UDP port on {host}")


def _unreachable_addresses(count: int) -> Iterator[str]:
    """Yield *count* distinct loopback addresses other than 127.0.0.1."""
    address = _UNREACHABLE_BASE
    produced = 0
    while produced < count:
        address += 1
        if address.packed[-1] in (0, 255):
            continue
        produced += 1
        yield str(address)


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


def _shm_segments() -> list[dict[str, int]]:
    """Parse /proc/sysvipc/shm (Linux) into dicts of its integer columns."""
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()
    except OSError:
        return []
    if not lines:
        return []
    header = lines[0].split()
    segments = []
    for line in lines[1:]:
        values = line.split()
        with contextlib.suppress(ValueError):
            segments.append({k: int(v) for k, v in zip(header, values, strict=False)})
    return segments


def _free_shm_unit() -> int:
    """Return the lowest NTP SHM unit whose segment does not exist yet."""
    used = {seg["key"] - _SHM_KEY_BASE for seg in _shm_segments()}
    unit = 0
    while unit in used:
        unit += 1
    return unit


def _remove_shm_segments(unit: int, client_pids: set[int]) -> None:
    """Remove the idle SHM segment of *unit* if one of *client_pids* created or left it.

    "Left": was the last to detach (two labs started at once may share a unit).
    chronyd detaches from its SHM refclock segment on exit but never removes it.
    """
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    ipc_rmid = 0
    for seg in _shm_segments():
        if (
            seg.get("key") == _SHM_KEY_BASE + unit
            and seg.get("nattch") == 0
            and (seg.get("cpid") in client_pids or seg.get("lpid") in client_pids)
        ):
            libc.shmctl(seg["shmid"], ipc_rmid, None)


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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    body = "\n".join("    " + line for line in text.splitlines()[-lines:])
    return f"  {path.name}:\n{body}"


def _terminate(pid: int, timeout: float, wait: Callable[[float], bool]) -> None:
    """SIGTERM (+SIGCONT in case it is stopped) *pid*, then SIGKILL after *timeout*."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    if wait(timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait(5.0)


# ----------------------------------------------------------------------------------
# The lab
# ----------------------------------------------------------------------------------


class Lab:
    """A server chronyd and a client chronyd on loopback, both owned by this process.

    Args:
        base_dir: Lab directory. Default: a fresh ``tempfile.mkdtemp()``. It is created
            (mode 0700) if missing; ``stop()`` removes it if the lab created it, else
            only the files the lab put there.
        sources: Total number of ``server`` lines in the client config: one reachable
            server plus ``sources - 1`` unreachable ones (distinct 127.0.1.x
            addresses and ports nobody listens on). Must be >= 1.
        refclock: Add a ``refclock SHM <unit> refid GPS noselect`` to the client (the
            lowest unused SHM unit, normally 0). Nothing feeds it.
        sync_timeout: Default bound, in seconds, for waiting until the client has
            selected the server.
        poll: minpoll/maxpoll of the reachable server (power of two seconds; chrony
            4.3 accepts -7..24).
        cmd_address: IPv4 address the client's UDP command port binds
            (``bindcmdaddress``); ``"0.0.0.0"`` makes it reachable on every local
            address, e.g. a non-loopback one for testing ``cmdallow``.
        cmdallow: Subnets the client's ``cmdallow`` lines allow (chronyd always
            answers 127.0.0.1 and ::1, and silently ignores every other host they
            do not cover).
        die_with_parent: Have the kernel SIGKILL the daemons if this process dies
            (Linux ``PR_SET_PDEATHSIG``), in addition to the ``atexit`` hook. The
            kernel ties this to the thread that started them: start labs from a
            thread that outlives them (e.g. the main thread) or pass False.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        sources: int = 3,
        refclock: bool = True,
        sync_timeout: float = 30.0,
        poll: int = -4,
        cmd_address: str = LOOPBACK,
        cmdallow: Sequence[str] = (LOOPBACK,),
        die_with_parent: bool = True,
    ) -> None:
        if sources < 1:
            raise ValueError("sources counts the reachable server too: it must be >= 1")
        if not -7 <= poll <= 24:
            raise ValueError("poll must be within -7..24")
        self._requested_dir = None if base_dir is None else Path(base_dir).absolute()
        self._sources = sources
        self._refclock = refclock
        self._sync_timeout = sync_timeout
        self._poll = poll
        self._cmd_address = str(ipaddress.IPv4Address(cmd_address))
        self._cmdallow = tuple(cmdallow)
        self._die_with_parent = die_with_parent

        self._base: Path | None = None
        self._owns_dir = False
        self._created: list[Path] = []
        self._server: subprocess.Popen[bytes] | None = None
        self._client: subprocess.Popen[bytes] | None = None
        self._client_pids: set[int] = set()
        self._server_port = 0
        self._cmd_port = 0
        self._shm_unit: int | None = None
        self._chronyd = ""
        self._chronyc = ""
        self._startup_seconds: float | None = None
        self._launched_at = 0.0

    # -- context manager ----------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<Lab {state} dir={self._base} sources={self._sources} udp={self.udp_address}>"

    # -- properties ---------------------------------------------------------------

    @property
    def base_dir(self) -> str:
        """The lab directory (valid once started)."""
        return str(self._require_base())

    @property
    def socket_path(self) -> str:
        """Path of the client's Unix command socket (``chronyc -h PATH``)."""
        return str(self._require_base() / "client" / "chronyd.sock")

    @property
    def server_socket_path(self) -> str:
        """Path of the server's Unix command socket: its client log holds the client
        chronyd (127.0.0.1) and the NTP requests it sent."""
        return str(self._require_base() / "server" / "chronyd.sock")

    @property
    def udp_host(self) -> str:
        """Address of the client's UDP command port."""
        return LOOPBACK

    @property
    def cmd_port(self) -> int:
        """The client's UDP command port (``chronyc -h 127.0.0.1 -p PORT``)."""
        return self._cmd_port

    @property
    def udp_address(self) -> str:
        """The client's UDP command address as ``"127.0.0.1:PORT"``."""
        return f"{LOOPBACK}:{self._cmd_port}"

    @property
    def server_ntp_port(self) -> int:
        """UDP port on 127.0.0.1 where the server chronyd answers NTP."""
        return self._server_port

    @property
    def server_pid(self) -> int | None:
        """Pid of the server chronyd, or None if not running."""
        return self._server.pid if self._server and self._server.poll() is None else None

    @property
    def client_pid(self) -> int | None:
        """Pid of the client chronyd, or None if not running."""
        return self._client.pid if self._client and self._client.poll() is None else None

    @property
    def sources(self) -> int:
        """Number of NTP sources (``server`` lines) in the client config."""
        return self._sources

    @property
    def refclock(self) -> bool:
        """Whether the client has the noselect SHM refclock."""
        return self._refclock

    @property
    def shm_unit(self) -> int | None:
        """SHM unit of the refclock, or None without one."""
        return self._shm_unit

    @property
    def startup_seconds(self) -> float | None:
        """Seconds from launching the client to it selecting the server (last start)."""
        return self._startup_seconds

    @property
    def client_log(self) -> str:
        """Path of the client's log (its stderr)."""
        return str(self._require_base() / "client.log")

    @property
    def server_log(self) -> str:
        """Path of the server's log (its stderr)."""
        return str(self._require_base() / "server.log")

    def is_running(self) -> bool:
        """True while both daemons are alive."""
        return self.server_pid is not None and self.client_pid is not None

    def env(self) -> dict[str, str]:
        """The ``PYCHRONY_LAB_*`` variables describing this lab."""
        return {
            ENV_SOCKET: self.socket_path,
            ENV_UDP: self.udp_address,
            ENV_DIR: self.base_dir,
        }

    def state(self) -> dict[str, Any]:
        """A JSON-able description of the lab (what the CLI's state file holds)."""
        return {
            "base_dir": self.base_dir,
            "socket_path": self.socket_path,
            "udp_address": self.udp_address,
            "cmd_port": self._cmd_port,
            "server_ntp_port": self._server_port,
            "server_pid": self.server_pid,
            "client_pid": self.client_pid,
            "sources": self._sources,
            "refclock": self._refclock,
            "shm_unit": self._shm_unit,
            "owns_dir": self._owns_dir,
            "created": [str(p) for p in self._created],
            "client_pids": sorted(self._client_pids),
            "startup_seconds": self._startup_seconds,
            "env": self.env(),
        }

    # -- lifecycle ----------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float | None = None) -> Lab:
        """Write the configs, launch both daemons and (by default) wait for sync.

        With ``wait=False`` call ``wait_synced()`` yourself: until then the
        unreachable sources stay ``offline``.

        Raises:
            LabError: chrony is missing, a daemon died, or the client did not select
                the server within the timeout (the message carries the log tails).
        """
        if self._base is not None:
            raise LabError("this lab was already started")
        self._chronyd, self._chronyc = ensure_chrony()
        self._prepare_dir()
        atexit.register(self.stop)
        attempts = 3
        try:
            for attempt in range(1, attempts + 1):
                self._pick_ports()
                self._write_configs()
                self._server = self._launch("server")
                self._launch_client()
                if not wait:
                    break
                try:
                    self.wait_synced(timeout)
                    break
                except _PortClash:
                    # A free port was taken between picking and binding: pick again.
                    if attempt == attempts:
                        raise
                    self._kill_daemons(timeout=5.0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both daemons (SIGTERM, SIGKILL after *timeout*) and remove the lab files.

        Safe to call more than once.
        """
        atexit.unregister(self.stop)
        self._kill_daemons(timeout)
        if self._shm_unit is not None:
            _remove_shm_segments(self._shm_unit, self._client_pids)
        if self._base is not None:
            _remove_lab_files(self._base, self._owns_dir, self._created)

    def detach(self) -> None:
        """Leave the daemons running after this process exits (used by ``start``)."""
        atexit.unregister(self.stop)

    def wait_synced(self, timeout: float | None = None) -> float:
        """Wait until the client's source 127.0.0.1 is selected (``*``); return seconds.

        Then switches the unreachable sources online (they start offline so they do
        not delay the first selection) and checks that the UDP command port answers.

        Raises:
            LabError: a daemon died or *timeout* (default ``sync_timeout``) expired.
        """
        limit = self._sync_timeout if timeout is None else timeout
        start = time.monotonic()
        deadline = start + limit
        while True:
            self._check_alive()
            self._check_sockets()
            out = self._run_chronyc(["-c", "sources"], udp=False, timeout=5.0)
            if out.returncode == 0 and _has_selected(out.stdout, LOOPBACK):
                if self._startup_seconds is None:
                    self._startup_seconds = time.monotonic() - self._launched_at
                break
            if time.monotonic() > deadline:
                raise LabError(
                    f"client chronyd did not select {LOOPBACK}:{self._server_port} "
                    f"within {limit:g} s; last chronyc output: "
                    f"{(out.stdout + out.stderr).strip()!r}\n{self._log_tails()}"
                )
            time.sleep(0.05)
        if self._sources > 1:
            online = self._run_chronyc(["online"], udp=False, timeout=5.0)
            if online.returncode != 0:
                raise LabError(f"chronyc online failed: {(online.stdout + online.stderr).strip()}")
        udp = self._run_chronyc(["-c", "activity"], udp=True, timeout=5.0)
        if udp.returncode != 0:
            raise LabError(
                f"UDP command port {self.udp_address} does not answer: "
                f"{(udp.stdout + udp.stderr).strip()!r}\n{self._log_tails()}"
            )
        return time.monotonic() - start

    # -- fault injection ----------------------------------------------------------

    def pause(self) -> None:
        """SIGSTOP the client: its sockets stay open but nothing answers."""
        pid = self._require_client()
        os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the client after ``pause()``."""
        pid = self._require_client()
        os.kill(pid, signal.SIGCONT)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Context manager: the client is stopped inside the block."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def kill_client(self, sig: int = signal.SIGKILL, timeout: float = 5.0) -> None:
        """Kill the client chronyd with *sig* and reap it.

        The default SIGKILL simulates a crash: the socket file stays behind and
        connecting to it is refused. SIGTERM makes chronyd remove its socket.
        """
        proc = self._client
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        if not _wait_popen(proc, timeout):
            proc.kill()
            proc.wait()

    def restart_client(self, *, wait: bool = True, timeout: float | None = None) -> float | None:
        """(Re)start the client with the same config, socket path and ports.

        Returns the seconds until it selected the server, or None with ``wait=False``.
        """
        self._require_base()
        if self._client is not None and self._client.poll() is None:
            self.kill_client(signal.SIGTERM)
        self._launch_client()
        if wait:
            return self.wait_synced(timeout)
        return None

    # -- chronyc ------------------------------------------------------------------

    def chronyc(
        self, *args: str, udp: bool = False, csv: bool = True, timeout: float = 10.0
    ) -> str:
        """Run ``chronyc -n [-c] ARGS`` against the client and return its stdout.

        Args:
            udp: Talk over the UDP command port instead of the Unix socket.
            csv: Pass ``-c`` (comma-separated output).

        Raises:
            LabError: chronyc failed (e.g. ``501 Not authorised`` over UDP).
        """
        extra = ["-c", *args] if csv else list(args)
        out = self._run_chronyc(extra, udp=udp, timeout=timeout)
        if out.returncode != 0:
            raise LabError(
                f"chronyc {' '.join(args)} failed ({out.returncode}): "
                f"{(out.stdout + out.stderr).strip()}"
            )
        return out.stdout

    # -- internals ----------------------------------------------------------------

    def _require_base(self) -> Path:
        if self._base is None:
            raise LabError("the lab is not started")
        return self._base

    def _require_client(self) -> int:
        pid = self.client_pid
        if pid is None:
            raise LabError("the client chronyd is not running")
        return pid

    def _prepare_dir(self) -> None:
        if self._requested_dir is None:
            self._base = Path(tempfile.mkdtemp(prefix="pychrony-lab-"))
            self._owns_dir = True
        else:
            base = self._requested_dir
            if (base / STATE_FILE).exists():
                status = status_lab_dir(base)
                if status["server_running"] or status["client_running"]:
                    raise LabError(f"{base} holds a running lab; stop it first")
            self._owns_dir = not base.exists()
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._base = base
        base = self._base
        if len(os.fsencode(base / "client" / _CHRONYC_SOCK_NAME)) > _SUN_PATH_MAX:
            raise LabError(f"lab directory path too long for a Unix socket path: {base}")
        for name in ("server", "client", "dump"):
            path = base / name
            path.mkdir(mode=0o700, exist_ok=True)
            # chronyd disables a socket whose directory is not 0700/0750 ("Wrong
            # permissions"); mkdir's mode is subject to the umask, so set it again.
            path.chmod(0o700)
            self._add_created(path)

    def _add_created(self, path: Path) -> None:
        if path not in self._created:
            self._created.append(path)

    def _pick_ports(self) -> None:
        taken: set[int] = set()
        self._server_port = _free_udp_port(LOOPBACK, taken)
        taken.add(self._server_port)
        self._cmd_port = _free_udp_port(self._cmd_address, taken)
        self._shm_unit = _free_shm_unit() if self._refclock else None

    def _write_configs(self) -> None:
        base = self._require_base()
        server = [
            "# server chronyd of a pychrony lab: serves NTP from its local clock",
            f"port {self._server_port}",
            f"bindaddress {LOOPBACK}",
            f"allow {LOOPBACK}",
            "local stratum 8",
            "cmdport 0",
            f"bindcmdaddress {base / 'server' / 'chronyd.sock'}",
            f"pidfile {base / 'server.pid'}",
            f"dumpdir {base / 'dump'}",
            f"ntsdumpdir {base / 'dump'}",
        ]
        addresses = _unreachable_addresses(self._sources - 1)
        taken = {self._server_port, self._cmd_port}
        client = [
            "# client chronyd of a pychrony lab",
            f"server {LOOPBACK} port {self._server_port} iburst "
            f"minpoll {self._poll} maxpoll {self._poll}",
        ]
        for address in addresses:
            port = _free_udp_port(address, taken)
            taken.add(port)
            # Nothing listens there. They start offline and wait_synced() brings them
            # online after the server is selected: chronyd spaces the requests of all
            # its sources (up to 0.2 s apart), so 63 sources polling from the start
            # delayed the first selection by 1-12 s; offline, it takes ~0.3 s.
            client.append(f"server {address} port {port} offline minpoll 6 maxpoll 6")
        if self._shm_unit is not None:
            client.append(f"refclock SHM {self._shm_unit} refid GPS noselect")
        client += [
            "port 0",
            f"bindcmdaddress {self.socket_path}",
            f"bindcmdaddress {self._cmd_address}",
            f"cmdport {self._cmd_port}",
            *(f"cmdallow {subnet}" for subnet in self._cmdallow),
            "smoothtime 400 0.001 leaponly",
            f"pidfile {base / 'client.pid'}",
            f"driftfile {base / 'client.drift'}",
            f"dumpdir {base / 'dump'}",
            f"ntsdumpdir {base / 'dump'}",
        ]
        for name, lines in (("server.conf", server), ("client.conf", client)):
            path = base / name
            path.write_text("\n".join(lines) + "\n")
            self._add_created(path)
        for name in ("server.log", "client.log"):
            (base / name).write_bytes(b"")
        for name in ("server.log", "client.log", "server.pid", "client.pid", "client.drift"):
            self._add_created(base / name)

    def _command(self, role: str) -> list[str]:
        conf = str(self._require_base() / f"{role}.conf")
        # -4: IPv4 only (no ::1 command socket); -d: foreground, log to stderr;
        # -x: never touch the clock.
        cmd = [self._chronyd, "-4", "-d", "-x"]
        if os.geteuid() == 0:
            cmd += ["-u", "root"]
        else:
            cmd += ["-U", "-u", pwd.getpwuid(os.geteuid()).pw_name]
        return [*cmd, "-f", conf]

    def _launch(self, role: str) -> subprocess.Popen[bytes]:
        base = self._require_base()
        with open(base / f"{role}.log", "ab") as log:
            return subprocess.Popen(
                self._command(role),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=base,
                start_new_session=True,
                preexec_fn=_make_die_with_parent() if self._die_with_parent else None,
            )

    def _launch_client(self) -> None:
        self._startup_seconds = None
        self._launched_at = time.monotonic()
        self._client = self._launch("client")
        self._client_pids.add(self._client.pid)

    def _kill_daemons(self, timeout: float) -> None:
        for proc in (self._client, self._server):
            if proc is not None and proc.poll() is None:
                _terminate(proc.pid, timeout, functools.partial(_wait_popen, proc))
        self._client = self._server = None

    def _check_sockets(self) -> None:
        """Raise _PortClash if a daemon logged that it could not open a socket."""
        base = self._require_base()
        for role in ("server", "client"):
            try:
                log = (base / f"{role}.log").read_text(errors="replace")
            except OSError:
                continue
            for line in log.splitlines():
                if any(failure in line for failure in _SOCKET_FAILURES):
                    raise _PortClash(f"{role} chronyd: {line}\n{self._log_tails()}")

    def _check_alive(self) -> None:
        for role, proc in (("server", self._server), ("client", self._client)):
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise LabError(f"{role} chronyd is not running (exit {code})\n{self._log_tails()}")

    def _log_tails(self) -> str:
        base = self._require_base()
        return "\n".join(_tail(base / f"{role}.log") for role in ("server", "client"))

    def _run_chronyc(
        self, args: Sequence[str], *, udp: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        target = ["-h", LOOPBACK, "-p", str(self._cmd_port)] if udp else ["-h", self.socket_path]
        try:
            return subprocess.run(
                [self._chronyc or find_chronyc() or "chronyc", *target, "-n", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout} s")


def _wait_popen(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _has_selected(csv_sources: str, address: str) -> bool:
    """True if ``chronyc -c sources`` output shows *address* as the selected source."""
    for line in csv_sources.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0] == "^" and fields[1] == "*" and fields[2] == address:
            return True
    return False


def _remove_lab_files(base: Path, owns_dir: bool, created: Sequence[Path]) -> None:
    if owns_dir:
        shutil.rmtree(base, ignore_errors=True)
        return
    for path in [*created, base / STATE_FILE]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------
# Labs started by another process (CLI start/stop/status)
# ----------------------------------------------------------------------------------


def _read_state(base_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(base_dir) / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"no lab state in {path}") from None
    return state


def _our_chronyd(pid: int | None, conf: Path) -> bool:
    """True if *pid* is a chronyd running with *conf* (guards against pid reuse)."""
    if not pid:
        return False
    cmdline = _proc_cmdline(pid)
    return bool(cmdline) and str(conf) in cmdline and "chronyd" in os.path.basename(cmdline[0])


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.02)
    return not _pid_alive(pid)


def status_lab_dir(base_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the saved state of the lab in *base_dir* with liveness information added."""
    state = _read_state(base_dir)
    base = Path(state["base_dir"])
    server_ok = _our_chronyd(state.get("server_pid"), base / "server.conf")
    client_ok = _our_chronyd(state.get("client_pid"), base / "client.conf")
    synced = False
    chronyc = find_chronyc()
    if client_ok and chronyc:
        try:
            out = subprocess.run(
                [chronyc, "-h", state["socket_path"], "-n", "-c", "sources"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pass
        else:
            synced = out.returncode == 0 and _has_selected(out.stdout, LOOPBACK)
    return {
        **state,
        "server_running": server_ok,
        "client_running": client_ok,
        "synchronised": synced,
    }


def stop_lab_dir(base_dir: str | os.PathLike[str], timeout: float = 5.0) -> dict[str, Any]:
    """Stop the lab whose state file is in *base_dir* and remove its files."""
    state = _read_state(base_dir)
    base = Path(state["base_dir"])
    for role in ("client", "server"):
        pid = state.get(f"{role}_pid")
        if pid and _our_chronyd(pid, base / f"{role}.conf"):
            _terminate(pid, timeout, functools.partial(_wait_pid_gone, pid))
    if state.get("shm_unit") is not None:
        _remove_shm_segments(state["shm_unit"], set(state.get("client_pids", [])))
    _remove_lab_files(base, state.get("owns_dir", False), [Path(p) for p in state["created"]])
    return state


# ----------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------


def _add_lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sources",
        type=int,
        default=3,
        help="total NTP sources in the client (1 reachable + N-1 unreachable; default 3)",
    )
    parser.add_argument(
        "--no-refclock", action="store_true", help="leave out the noselect SHM refclock"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for sync (default 30)"
    )


def _print_shell(env: dict[str, str]) -> None:
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


def _cmd_start(args: argparse.Namespace) -> int:
    lab = Lab(
        args.dir,
        sources=args.sources,
        refclock=not args.no_refclock,
        sync_timeout=args.timeout,
        die_with_parent=False,
    )
    lab.start()
    lab.detach()
    state = lab.state()
    (Path(lab.base_dir) / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    if args.shell:
        _print_shell(lab.env())
    else:
        print(json.dumps(state, indent=2))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    try:
        state = stop_lab_dir(args.dir)
    except LabError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"stopped lab in {state['base_dir']}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    try:
        state = status_lab_dir(args.dir)
    except LabError as exc:
        print(exc, file=sys.stderr)
        return 3
    print(json.dumps(state, indent=2))
    return 0 if state["server_running"] and state["client_running"] else 3


def _raise_system_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("run: give a command after --", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_system_exit)
    with Lab(
        args.dir, sources=args.sources, refclock=not args.no_refclock, sync_timeout=args.timeout
    ) as lab:
        print(
            f"chrony lab: socket {lab.socket_path}, udp {lab.udp_address}, "
            f"{lab.sources} sources, synced in {lab.startup_seconds or 0:.2f} s",
            file=sys.stderr,
        )
        env = {**os.environ, **lab.env()}
        try:
            return subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python3 ci/chrony_lab.py``."""
    parser = argparse.ArgumentParser(
        prog="chrony_lab.py", description="Throw-away chronyd server+client pair on loopback."
    )
    sub = parser.add_subparsers(dest="action", required=True)

    start = sub.add_parser("start", help="start a lab in --dir, write lab.json, print it")
    start.add_argument("--dir", default=_DEFAULT_CLI_DIR, help=f"(default {_DEFAULT_CLI_DIR})")
    start.add_argument("--shell", action="store_true", help="print 'export VAR=...' lines")
    _add_lab_options(start)
    start.set_defaults(func=_cmd_start)

    for name, func, text in (
        ("stop", _cmd_stop, "stop the lab in --dir and remove its files"),
        ("status", _cmd_status, "print the lab state; exit 3 if not running"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--dir", default=_DEFAULT_CLI_DIR, help=f"(default {_DEFAULT_CLI_DIR})")
        cmd.set_defaults(func=func)

    run = sub.add_parser("run", help="start a lab, run CMD with PYCHRONY_LAB_* set, stop")
    run.add_argument("--dir", default=None, help="lab directory (default: a fresh temp dir)")
    _add_lab_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    run.set_defaults(func=_cmd_run)

    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except LabError as exc:
        print(f"chrony_lab: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
