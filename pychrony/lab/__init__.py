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

The package, one concern a module: ``pair`` (the :class:`Lab` and its lifecycle),
``view`` (where a started lab's sockets, ports and logs are), ``config`` (the two
chronyd.conf), ``processes`` (launching and stopping the daemons), ``directory``
(the lab directory's files), ``logs``, ``chronyc``, ``network`` (ports and
addresses), ``shm`` (the refclock's segments), ``install`` (finding chrony),
``saved`` (labs of another process, by their state file) and ``cli``.
"""

from __future__ import annotations

from .cli import main
from .directory import STATE_FILE
from .errors import LabError
from .install import ensure_chrony, find_chronyc, find_chronyd
from .network import LOOPBACK
from .pair import Lab
from .saved import status_lab_dir, stop_lab_dir
from .view import ENV_DIR, ENV_SOCKET, ENV_UDP

__all__ = [
    "ENV_DIR",
    "ENV_SOCKET",
    "ENV_UDP",
    "LOOPBACK",
    "STATE_FILE",
    "Lab",
    "LabError",
    "ensure_chrony",
    "find_chronyc",
    "find_chronyd",
    "main",
    "status_lab_dir",
    "stop_lab_dir",
]
