"""``pychrony serve``: options passed through, the port bound before anything is announced."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

pytest.importorskip("uvicorn")

import uvicorn

from pychrony import cli
from pychrony.cli.common import EXIT_BIND


def test_serve_binds_then_announces_and_passes_options(monkeypatch, capsys):
    seen = {}

    def run(server, sockets=None):
        (sock,) = sockets
        seen["bound"] = sock.getsockname()
        seen["announced"] = capsys.readouterr().err  # printed before the server runs
        seen["app"] = server.config.app

    monkeypatch.setattr(uvicorn.Server, "run", run)
    argv = ["-h", "127.0.0.1:323", "--timeout", "0.5", "--attempts", "2", "--backend", "python"]
    assert cli.main([*argv, "serve", "--host", "127.0.0.1", "--port", "0"]) == 0
    host, port = seen["bound"]
    assert host == "127.0.0.1"
    assert port > 0
    assert f"pychrony dashboard on http://127.0.0.1:{port}/" in seen["announced"]
    reader = seen["app"].state.reader
    assert (reader.address, reader.timeout, reader.attempts) == ("127.0.0.1:323", 0.5, 2)


def test_serve_on_a_busy_port_says_so_and_announces_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pychrony", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == EXIT_BIND
    assert result.stdout == ""
    assert result.stderr == f"pychrony: cannot serve on 127.0.0.1:{port}: Address already in use\n"


def test_serve_port_out_of_range_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "pychrony", "serve", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not a port (1-65535): '99999'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_history_reaches_the_dashboard(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda server, sockets=None: seen.update(app=server.config.app)
    )
    assert cli.main(["serve", "--port", "0", "--history", "3600"]) == 0
    assert seen["app"].state.reader.history.window == 3600.0


@pytest.mark.parametrize("value", ["0", "-5", "nan", "86401"])
def test_serve_history_out_of_range_is_a_usage_error(value, capsys):
    assert cli.main(["serve", "--port", "0", "--history", value]) == 2
    err = capsys.readouterr().err
    assert "history must be a number of seconds in (0, 86400]" in err
    assert "dashboard on" not in err
