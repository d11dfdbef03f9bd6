"""The :class:`Lab`: a server chronyd and a client chronyd owned by this process."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .chronyc import has_selected, run_chronyc
from .config import ClientSettings, write_configs
from .directory import LabDir, make_lab_dirs, remove_lab_files
from .errors import LabError, PortClash
from .install import ensure_chrony
from .logs import check_sockets, log_tails
from .network import LOOPBACK, free_udp_port
from .processes import Daemons
from .saved import status_lab_dir
from .shm import free_shm_unit, remove_shm_segments
from .view import LabView

__all__ = ["Lab"]


class Lab(LabView):
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
        super().__init__(sources, refclock, Daemons(die_with_parent))
        self._requested_dir = None if base_dir is None else Path(base_dir).absolute()
        self._sync_timeout = sync_timeout
        self._poll = poll
        self._cmd_address = str(ipaddress.IPv4Address(cmd_address))
        self._cmdallow = tuple(cmdallow)
        self._chronyd = ""
        self._chronyc = ""
        self._launched_at = 0.0

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- lifecycle ----------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float | None = None) -> Lab:
        """Write the configs, launch both daemons and (by default) wait for sync.

        With ``wait=False`` call ``wait_synced()`` yourself: until then the
        unreachable sources stay ``offline``.

        Raises:
            LabError: chrony is missing, a daemon died, or the client did not select
                the server within the timeout (the message carries the log tails).
        """
        if self._layout is not None:
            raise LabError("this lab was already started")
        self._chronyd, self._chronyc = ensure_chrony()
        self._prepare_dir()
        atexit.register(self.stop)
        attempts = 3
        try:
            for attempt in range(1, attempts + 1):
                self._pick_ports()
                self._write_configs()
                self._daemons.launch("server", self._chronyd, self._dir())
                self._launch_client()
                if not wait:
                    break
                try:
                    self.wait_synced(timeout)
                    break
                except PortClash:
                    # A free port was taken between picking and binding: pick again.
                    if attempt == attempts:
                        raise
                    self._daemons.stop(timeout=5.0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both daemons (SIGTERM, SIGKILL after *timeout*) and remove the lab files.

        Safe to call more than once.
        """
        atexit.unregister(self.stop)
        self._daemons.stop(timeout)
        if self._shm_unit is not None:
            remove_shm_segments(self._shm_unit, self._daemons.client_pids)
        if self._layout is not None:
            remove_lab_files(self._layout.base, self._owns_dir, self._created)

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
            self._daemons.check_alive(self._dir())
            check_sockets(self._dir())
            out = self._run_chronyc(["-c", "sources"], udp=False, timeout=5.0)
            if out.returncode == 0 and has_selected(out.stdout, LOOPBACK):
                if self._startup_seconds is None:
                    self._startup_seconds = time.monotonic() - self._launched_at
                break
            if time.monotonic() > deadline:
                raise LabError(
                    f"client chronyd did not select {LOOPBACK}:{self._server_port} "
                    f"within {limit:g} s; last chronyc output: "
                    f"{(out.stdout + out.stderr).strip()!r}\n{log_tails(self._dir())}"
                )
            time.sleep(0.05)
        if self._sources > 1:
            online = self._run_chronyc(["online"], udp=False, timeout=5.0)
            if online.returncode != 0:
                raise LabError(f"chronyc online failed: {(online.stdout + online.stderr).strip()}")
        # Asked again until the deadline: on a loaded machine (a fleet of labs starting
        # on one CPU) one chronyc run over UDP can time out although chronyd is fine.
        while True:
            udp = self._run_chronyc(["-c", "activity"], udp=True, timeout=5.0)
            if udp.returncode == 0:
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise LabError(
                    f"UDP command port {self.udp_address} does not answer: "
                    f"{(udp.stdout + udp.stderr).strip()!r}\n{log_tails(self._dir())}"
                )
            self._daemons.check_alive(self._dir())

    # -- fault injection ----------------------------------------------------------

    def pause(self) -> None:
        """SIGSTOP the client: its sockets stay open but nothing answers."""
        self._daemons.signal_client(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the client after ``pause()``."""
        self._daemons.signal_client(signal.SIGCONT)

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
        self._daemons.kill_client(sig, timeout)

    def restart_client(self, *, wait: bool = True, timeout: float | None = None) -> float | None:
        """(Re)start the client with the same config, socket path and ports.

        Returns the seconds until it selected the server, or None with ``wait=False``.
        """
        self._dir()
        if self.client_pid is not None:
            self.kill_client(signal.SIGTERM)
        self._launch_client()
        return self.wait_synced(timeout) if wait else None

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

    def _prepare_dir(self) -> None:
        if self._requested_dir is None:
            base = Path(tempfile.mkdtemp(prefix="pychrony-lab-"))
            self._owns_dir = True
        else:
            base = self._requested_dir
            if LabDir(base).state_file.exists():
                status = status_lab_dir(base)
                if status["server_running"] or status["client_running"]:
                    raise LabError(f"{base} holds a running lab; stop it first")
            self._owns_dir = not base.exists()
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._layout = LabDir(base)
        self._add_created(make_lab_dirs(self._layout))

    def _add_created(self, paths: Sequence[Path]) -> None:
        self._created += [path for path in paths if path not in self._created]

    def _pick_ports(self) -> None:
        """Free UDP ports for the server's NTP and the client's commands, a free SHM unit.

        A hook, like ``socket_path``: tests/integration/labs.py's StandardLab overrides
        both to put the client at chronyd's standard endpoints.
        """
        self._server_port = free_udp_port(LOOPBACK, set())
        self._cmd_port = free_udp_port(self._cmd_address, {self._server_port})
        self._shm_unit = free_shm_unit() if self._refclock else None

    def _write_configs(self) -> None:
        settings = ClientSettings(
            socket_path=self.socket_path,
            server_port=self._server_port,
            cmd_address=self._cmd_address,
            cmd_port=self._cmd_port,
            sources=self._sources,
            poll=self._poll,
            cmdallow=self._cmdallow,
            shm_unit=self._shm_unit,
        )
        self._add_created(write_configs(self._dir(), settings))

    def _launch_client(self) -> None:
        self._startup_seconds = None
        self._launched_at = time.monotonic()
        self._daemons.launch("client", self._chronyd, self._dir())

    def _run_chronyc(
        self, args: Sequence[str], *, udp: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        target = ["-h", LOOPBACK, "-p", str(self._cmd_port)] if udp else ["-h", self.socket_path]
        return run_chronyc(self._chronyc, target, args, timeout)
