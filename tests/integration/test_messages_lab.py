"""Messages that name the real cause, both backends, against real chronyds: a socket
directory too long for the reply socket, a directory the client may not write in,
a command refused over UDP. README, "What pychrony survives", sums them up.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from labs import start_lab
from unprivileged import run_as_nobody

from pychrony import ChronyConnection, ChronyConnectionError, ChronyPermissionError
from pychrony.lab import find_chronyd

pytestmark = pytest.mark.integration

#: The longest directory of chronyd's socket each backend can put its reply socket
#: in: 107 bytes of sun_path less the reply socket's name (libchrony's is longer).
LONGEST_DIR = {"python": 107 - 36, "native": 107 - 45}


def lab_dir_of(length: int) -> Path:
    """A fresh directory whose ``client`` subdirectory path has ``length`` bytes."""
    base = Path(tempfile.mkdtemp(prefix="pychrony-long-"))
    pad = length - len(os.fsencode(base / "x" / "client"))
    assert pad >= 1
    return base / ("x" * (pad + 1))


@pytest.mark.parametrize("length", [64, 75])
def test_socket_directory_too_long_for_the_reply_socket(backend, length):
    base = lab_dir_of(length)
    lab = start_lab(sources=1, refclock=False, base_dir=base)
    try:
        assert len(os.fsencode(os.path.dirname(lab.socket_path))) == length
        conn = ChronyConnection(lab.socket_path, timeout=0.5, backend=backend)
        longest = LONGEST_DIR[backend]
        if length <= longest:
            assert conn.get_tracking().stratum == 9
        else:
            message = (
                f"too long to bind a reply socket beside it: its directory has {length} "
                f"bytes, at most {longest} fit"
            )
            with pytest.raises(ChronyConnectionError, match=re.escape(message)):
                conn.get_tracking()
        conn.close()
        assert sorted(os.listdir(os.path.dirname(lab.socket_path))) == ["chronyd.sock"]
    finally:
        lab.stop()
        os.rmdir(base.parent)


def test_socket_path_too_long_for_any_unix_socket(backend):
    path = "/run/" + "x" * 120 + "/chronyd.sock"
    with pytest.raises(ChronyConnectionError, match=r"too long for a Unix socket \(138 bytes"):
        ChronyConnection(path, backend=backend).get_tracking()


def test_reply_socket_directory_not_writable(lab, backend):
    """chronyd's socket reachable by nobody (its directories 0711 and 0755, the
    socket 0666), its directory not writable: the message says that the client's
    reply socket cannot be created there."""
    directory = os.path.dirname(lab.socket_path)
    os.chmod(lab.base_dir, 0o711)
    os.chmod(directory, 0o755)  # chronyd checks its directory only when it starts
    os.chmod(lab.socket_path, 0o666)  # writable by anyone (chronyd made it 0755)
    try:
        result = run_as_nobody(
            "import sys; from pychrony import ChronyConnection, ChronyPermissionError\n"
            "try:\n"
            f"    ChronyConnection({lab.socket_path!r}, backend={backend!r}).get_tracking()\n"
            "except ChronyPermissionError as exc:\n"
            "    print(exc); sys.exit(0)\n"
            "sys.exit(1)\n",
            native=backend == "native",
        )
    finally:
        os.chmod(lab.socket_path, 0o755)
        os.chmod(directory, 0o700)
        os.chmod(lab.base_dir, 0o700)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "creating the client's reply socket beside chronyd's socket in " + directory in (
        result.stdout
    )
    assert "chronyd's socket is accessible" in result.stdout
    assert "so that the socket is accessible" not in result.stdout
    assert sorted(os.listdir(directory)) == ["chronyd.sock"]


def test_not_authorised_over_udp_names_the_version_of_opencommands(lab, backend):
    with (
        ChronyConnection(lab.udp_address, timeout=0.5, backend=backend) as conn,
        pytest.raises(ChronyPermissionError, match="not authorised") as exc,
    ):
        conn.get_server_stats()
    assert "from chrony 4.7 on chronyd's 'opencommands' directive" in str(exc.value)


def test_this_chronyd_rejects_opencommands_as_the_message_says(tmp_path):
    """The fact behind the advice: chronyd before 4.7 (4.3 here) rejects the directive."""
    chronyd = find_chronyd()
    if chronyd is None:
        pytest.skip("chronyd is not installed")
    version = subprocess.run([chronyd, "-v"], capture_output=True, text=True).stdout
    major, minor = (int(n) for n in re.search(r"version (\d+)\.(\d+)", version).groups())
    conf = tmp_path / "chrony.conf"
    conf.write_text("opencommands sources\n")
    out = subprocess.run([chronyd, "-p", "-f", str(conf)], capture_output=True, text=True)
    if (major, minor) >= (4, 7):
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode != 0
        assert "Invalid directive" in out.stderr
