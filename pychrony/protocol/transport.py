"""The client's sockets: a connected datagram socket to chronyd, and its files.

The only client module besides the drivers (:mod:`.sync`, :mod:`.aio`) that
touches the operating system. :func:`open_unix` binds our reply socket safely
beside chronyd's (:class:`ClientDir`), :func:`open_udp` connects to a command
port, and :class:`Transport` sends and reads without blocking: a full queue
is reported (the driver waits for room), a Unix socket whose chronyd went away
(restarted?) is connected again.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import socket
import stat
import string
import tempfile
import weakref
from secrets import choice
from typing import Final

from .. import _fork
from .._address import Endpoint
from .._errors import open_error, path_length_error, reply_dir_error
from ..exceptions import ChronyConnectionError
from .engine import RECV_SIZE, WINDOW

__all__ = [
    "POLLIN",
    "POLLOUT",
    "ClientDir",
    "Link",
    "Transport",
    "discard",
    "open_udp",
    "open_unix",
]

POLLIN: Final = select.POLLIN
POLLOUT: Final = select.POLLOUT
_DIR_PREFIX: Final = "pychrony."
#: What our reply socket's path adds to the directory of chronyd's socket:
#: ``/pychrony.`` + mkdtemp's 8 random characters + ``/`` + 12 random + ``/sock``.
_REPLY_SUFFIX: Final = 1 + len(_DIR_PREFIX) + 8 + 1 + 12 + len("/sock")
_NAME_ALPHABET: Final = string.ascii_letters + string.digits
#: send() errors of a Unix socket whose chronyd went away (restarted?).
_PEER_GONE: Final = frozenset({errno.ECONNREFUSED, errno.ENOTCONN})
#: Late replies to abandoned requests dropped before a pipelined run.
_DRAIN_MAX: Final = 64


class ClientDir:
    """The directories holding our Unix socket: ``<server dir>/pychrony.XXXXXXXX/<random>/sock``.

    chronyd may run as another user and may write to its own directory, where
    ours is created. So: the outer directory is made by ``mkdtemp`` (mode 0700,
    opened without following symlinks and checked to be ours), the inner one
    has a secret random name, and the socket is made writable while both are
    still 0700; only then are the directories opened to 0711 (enter, not list).
    Everything inside is reached through the outer directory's descriptor.
    """

    def __init__(self, server_path: str) -> None:
        self.pid = os.getpid()
        self.path = ""
        self.fd = -1
        self.inner = "".join(choice(_NAME_ALPHABET) for _ in range(12))
        parent = os.path.dirname(server_path) or "."
        self.path = tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=parent)
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            st, lst = os.fstat(self.fd), os.lstat(self.path)
            if (
                not stat.S_ISDIR(st.st_mode)
                or st.st_uid != os.geteuid()
                or st.st_mode & 0o077  # nobody else may enter it yet
                or (st.st_dev, st.st_ino) != (lst.st_dev, lst.st_ino)
            ):
                raise OSError(errno.EPROTO, f"{self.path} is not the directory just created")
            os.mkdir(self.inner, 0o700, dir_fd=self.fd)
        except BaseException:
            self.remove()
            raise

    @property
    def socket_path(self) -> str:
        """Where our socket is bound."""
        return f"{self.path}/{self.inner}/sock"

    def open_up(self) -> None:
        """Let chronyd (any user) reach the bound socket: it needs to write to it."""
        os.chmod(f"{self.inner}/sock", 0o666, dir_fd=self.fd, follow_symlinks=False)
        os.chmod(self.inner, 0o711, dir_fd=self.fd)
        os.fchmod(self.fd, 0o711)

    def remove(self) -> None:
        """Remove the socket file and both directories (idempotent, never raises)."""
        fd, self.fd = self.fd, -1
        if self.pid != os.getpid():  # a forked child: the files are its parent's
            if fd >= 0:
                os.close(fd)
            return
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(f"{self.inner}/sock", dir_fd=fd)
            with contextlib.suppress(OSError):
                os.rmdir(self.inner, dir_fd=fd)
            os.close(fd)
        if self.path:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)
            self.path = ""


def open_unix(path: str) -> tuple[socket.socket, ClientDir]:
    """A non-blocking socket connected to chronyd's at ``path``, bound in its :class:`ClientDir`."""
    too_long = path_length_error(path, _REPLY_SUFFIX)
    if too_long is not None:
        raise too_long
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    client_dir: ClientDir | None = None
    try:
        try:
            # Fails early (no files created) when the socket is missing, dead or
            # not accessible.
            sock.connect(path)
        except OSError as exc:
            raise open_error(path, -(exc.errno or errno.EIO)) from None
        try:
            client_dir = ClientDir(path)
        except PermissionError as exc:
            raise reply_dir_error(path) from exc
        sock.bind(client_dir.socket_path)
        client_dir.open_up()
        sock.setblocking(False)
        return sock, client_dir
    except OSError as exc:
        discard(sock, client_dir)
        raise ChronyConnectionError(
            f"Cannot set up a socket to talk to chronyd at {path}: {exc}", -(exc.errno or 0)
        ) from exc
    except BaseException:
        discard(sock, client_dir)
        raise


def open_udp(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket connected to chronyd's command port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise open_error(address, -(exc.errno or errno.EIO)) from None
    try:
        sock.connect((host, port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise open_error(address, -(exc.errno or errno.EIO)) from None
    except BaseException:
        sock.close()
        raise
    return sock


def discard(sock: socket.socket, client_dir: ClientDir | None) -> None:
    """Close ``sock`` and remove its files."""
    sock.close()
    if client_dir is not None:
        client_dir.remove()


@functools.cache
def unix_window() -> int:
    """The pipelining window for Unix sockets: below the datagram queue limit."""
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            qlen = int(f.read())
    except (OSError, ValueError):
        qlen = 10
    return max(1, min(WINDOW, qlen - 2))


class Transport:
    """One connected, non-blocking datagram socket to chronyd and its poll() objects.

    ``reconnects`` counts reconnections (records read before one may be another
    chronyd's: :mod:`pychrony._source_list`).
    """

    __slots__ = ("address", "path", "poll_in", "pollers", "reconnects", "sock")

    def __init__(self, sock: socket.socket, endpoint: Endpoint, reconnects: int = 0) -> None:
        self.sock = sock
        self.address = str(endpoint)
        self.path = endpoint.path
        self.reconnects = reconnects
        self.pollers: dict[int, select.poll] = {}
        for events in (POLLIN, POLLOUT, POLLIN | POLLOUT):
            self.pollers[events] = select.poll()
            self.pollers[events].register(sock, events)
        self.poll_in = self.pollers[POLLIN].poll

    def fileno(self) -> int:
        """The socket's descriptor."""
        return self.sock.fileno()

    def send(self, packet: bytes) -> bool:
        """Send ``packet`` if chronyd's queue has room (False when it is full)."""
        try:
            self.sock.send(packet)
            return True
        except OSError as exc:
            return self.send_failed(packet, exc)

    def send_failed(self, packet: bytes, exc: OSError) -> bool:
        """After send() raised ``exc``: False for a full queue; a Unix socket whose
        chronyd went away (restarted?) is connected again and ``packet`` resent;
        any other failure raises."""
        if isinstance(exc, BlockingIOError):
            return False
        if exc.errno not in _PEER_GONE or self.path is None:
            raise self.io_error(exc) from exc
        try:
            self.sock.connect(self.path)
        except OSError as again:
            raise open_error(self.path, -(again.errno or errno.EIO)) from exc
        self.reconnects += 1
        try:
            self.sock.send(packet)
            return True
        except BlockingIOError:
            return False
        except OSError as again:
            raise self.io_error(again) from again

    def recv(self) -> bytes | None:
        """One queued datagram, without waiting; None when none is queued."""
        try:
            return self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise self.io_error(exc) from exc

    def drain(self) -> None:
        """Drop queued datagrams (late replies to abandoned requests), a bounded number."""
        if self.poll_in(0):
            for _ in range(_DRAIN_MAX):
                if self.recv() is None:
                    break

    def io_error(self, exc: OSError) -> ChronyConnectionError:
        """The error for a failed send() or recv()."""
        if isinstance(exc, ConnectionRefusedError):
            return ChronyConnectionError(
                f"Failed to process the response: chronyd at {self.address} refused the "
                "request. Is chronyd running and listening there (cmdport, bindcmdaddress)?",
                -errno.ECONNREFUSED,
            )
        return ChronyConnectionError(
            "Failed to process the response: lost the connection to chronyd at "
            f"{self.address} ({exc.strerror or exc})",
            -(exc.errno or errno.EIO),
        )


class Link:
    """A session's socket over its life: open, inherited by a forked child, closed.

    A child of ``fork()`` must neither use its parent's socket nor remove the
    parent's files (:mod:`pychrony._fork`): there :meth:`forked` marks the link
    inherited, and the next :meth:`transport` opens the child's own socket.
    """

    __slots__ = ("__weakref__", "_finalizer", "current", "endpoint", "inherited", "open")

    def __init__(
        self, sock: socket.socket, endpoint: Endpoint, client_dir: ClientDir | None
    ) -> None:
        self.endpoint = endpoint
        self._attach(sock, client_dir, 0)
        self.inherited = False  # a forked child's copy, until it opens its own socket
        _fork.track(self)

    def _attach(self, sock: socket.socket, client_dir: ClientDir | None, reconnects: int) -> None:
        self.current = Transport(sock, self.endpoint, reconnects)
        self._finalizer = weakref.finalize(self, discard, sock, client_dir)
        _fork.clean_up_at_exit(self, self._finalizer)
        self.open = True  # until close(): cheaper to ask than the finalizer

    @property
    def reconnects(self) -> int:
        """Reconnections so far (a forked child's own socket keeps the count)."""
        return self.current.reconnects

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self.open and not self.inherited

    def forked(self) -> None:
        """In a forked child: the socket is the parent's (see the class)."""
        if self.open:
            self.open = False
            self.inherited = True

    def transport(self) -> Transport:
        """The open transport (a forked child's own); raises once closed."""
        if self.inherited:
            # Closes the child's copy of the descriptor; the reply socket's files
            # are the parent's and stay (ClientDir.remove checks the pid).
            self._finalizer()
            endpoint, reconnects = self.endpoint, self.current.reconnects
            if endpoint.path is not None:
                self._attach(*open_unix(endpoint.path), reconnects)
            else:
                self._attach(open_udp(str(endpoint.host), endpoint.port), None, reconnects)
            self.inherited = False
        if not self.open:
            address = self.current.address
            raise ChronyConnectionError(f"The session to chronyd at {address} is closed")
        return self.current

    def close(self) -> None:
        """Close the socket and remove its files; idempotent."""
        self.open = self.inherited = False
        self._finalizer()
