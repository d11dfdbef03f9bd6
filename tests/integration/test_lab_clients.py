"""``get_clients()`` agrees with ``chronyc -c -n clients`` on a real chronyd 4.3.

The lab has clients on both daemons: the server chronyd's log holds the client
chronyd (127.0.0.1), which sends it NTP requests 16 times a second; the client
chronyd's log holds this process, which sends it command requests over UDP
(requests over the Unix socket, chronyc's and ours here, are not logged). Hits
only grow and ``last ... ago`` only moves with the clock, so each comparison
reads, runs chronyc, reads again: chronyc's values lie between the two reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pychrony import ChronyConnection, ChronyPermissionError, Client
from pychrony.lab import Lab
from pychrony.models import NEVER_SAMPLED, NO_INTERVAL

pytestmark = pytest.mark.integration

#: ``chronyc -c clients`` columns: address, then the NTP and command services.
NTP = ("ntp_hits", "ntp_drops", "ntp_interval", "ntp_timeout_interval", "last_ntp_hit_ago")
CMD = ("cmd_hits", "cmd_drops", "cmd_interval", "last_cmd_hit_ago")
#: Columns whose value changes while chronyc runs; the others must be equal.
MOVING = ("ntp_hits", "cmd_hits", "last_ntp_hit_ago", "last_cmd_hit_ago")


def _command_requests(lab: Lab, count: int) -> None:
    with ChronyConnection(lab.udp_address, backend="python") as conn:
        for _ in range(count):
            conn.get_tracking()


def _compare(read: Callable[[], list[Client]], rows: Callable[[], list[list[str]]]) -> None:
    for _ in range(20):
        before, chronyc, after = read(), rows(), read()
        if [c.address for c in before] == [c.address for c in after] == [r[0] for r in chronyc]:
            break
    else:
        pytest.fail("the client log kept changing during every chronyc run")
    assert chronyc, "chronyd logged no client"
    for low, row, high in zip(before, chronyc, after, strict=True):
        assert len(row) == 1 + len(NTP) + len(CMD)
        for name, text in zip(NTP + CMD, row[1:], strict=True):
            value = int(text)
            a, b = getattr(low, name), getattr(high, name)
            if name in MOVING and value != NEVER_SAMPLED:
                assert min(a, b) - 1 <= value <= max(a, b) + 1, (name, a, value, b)
            else:
                assert value == a == b, (name, a, value, b)


def _csv(lab: Lab, *args: str) -> list[list[str]]:
    return [line.split(",") for line in lab.chronyc(*args, "clients").splitlines() if line]


def test_command_clients_equal_chronyc(lab: Lab, backend: str) -> None:
    _command_requests(lab, 5)
    with ChronyConnection(lab.socket_path, backend=backend) as conn:
        assert conn.backend == backend
        assert conn.backend_of("clients") == "python"
        assert conn.backend_of("tracking") == backend
        _compare(conn.get_clients, lambda: _csv(lab))
        ours = {c.address: c for c in conn.get_clients()}
    me = ours["127.0.0.1"]
    assert me.cmd_hits >= 5
    assert me.ntp_hits == 0
    assert me.ntp_interval == NO_INTERVAL
    assert me.last_ntp_hit_ago == NEVER_SAMPLED
    assert me.last_cmd_hit_ago < 60


def test_ntp_clients_equal_chronyc(lab: Lab) -> None:
    with ChronyConnection(lab.server_socket_path, backend="python") as conn:
        _compare(conn.get_clients, lambda: _csv(lab, "-h", lab.server_socket_path))
        (client,) = conn.get_clients()
    assert client.address == "127.0.0.1"
    assert client.ntp_hits > 0
    assert client.ntp_drops == 0
    assert -8 <= client.ntp_interval <= 0  # it polls 16 times a second
    assert client.cmd_hits == 0
    assert client.last_cmd_hit_ago == NEVER_SAMPLED


def test_clients_over_udp_is_refused_before_sending(lab: Lab, backend: str) -> None:
    with ChronyConnection(lab.udp_address, backend=backend) as conn:
        with pytest.raises(ChronyPermissionError, match="Unix command socket only"):
            conn.get_clients()
        conn.get_tracking()  # the connection still works


def test_async_clients(lab: Lab, backend: str) -> None:
    from pychrony.aio import AsyncChronyConnection

    async def read() -> list[Client]:
        async with AsyncChronyConnection(lab.socket_path, backend=backend) as conn:
            assert conn.backend_of("clients") == "python"
            return await conn.get_clients()

    _command_requests(lab, 1)
    clients = asyncio.run(read())
    with ChronyConnection(lab.socket_path, backend="python") as sync:
        expected = sync.get_clients()
    assert [c.address for c in clients] == [c.address for c in expected]
    assert clients[0].cmd_hits <= expected[0].cmd_hits


def test_pool_clients(lab: Lab) -> None:
    from pychrony import ChronyConnectionPool

    with ChronyConnectionPool(lab.socket_path, backend="python") as pool:
        assert [c.address for c in pool.get_clients()] == ["127.0.0.1"]


@pytest.mark.parametrize("options", [["-n"], ["-n", "-c"]])
@pytest.mark.parametrize("server", [False, True])
def test_cli_prints_what_chronyc_prints(lab: Lab, options: list[str], server: bool) -> None:
    """``pychrony clients`` as chronyc prints it: same lines, same fields."""
    import subprocess
    import sys

    socket = lab.server_socket_path if server else lab.socket_path
    _command_requests(lab, 2)
    args = [*options, "-h", socket, "clients"]
    ours = chronyc = ""
    for _ in range(10):
        chronyc = lab.chronyc(*args, csv=False)
        run = [sys.executable, "-m", "pychrony", "--backend", "python", *args]
        ours = subprocess.run(run, capture_output=True, text=True, timeout=30, check=True).stdout
        if ours == chronyc:
            break
    assert ours.splitlines()[-1].startswith("127.0.0.1")
    if not server:  # nobody else sends the client chronyd requests over UDP meanwhile
        assert ours == chronyc
    else:  # its NTP hits grow 16 times a second: the same lines and fields
        assert [len(line.split()) for line in ours.splitlines()] == [
            len(line.split()) for line in chronyc.splitlines()
        ]


def test_exporter_clients_collector_on_chronyd(lab: Lab, backend: str) -> None:
    """chrony_exporter's clients families from the server chronyd's log, with the
    values chronyc clients shows (its one client, 127.0.0.1, polling 16 times a second)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from pychrony.exporter import ChronyCollector, ScrapeReader

    registry = CollectorRegistry(auto_describe=False)
    reader = ScrapeReader(lab.server_socket_path, deadline=3.0, backend=backend)
    registry.register(ChronyCollector(reader, ["clients"]))
    (row,) = _csv(lab, "-h", lab.server_socket_path)
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert families["chrony_clients_connected"].type == "gauge"
    assert samples["chrony_clients_connected", (("protocol", "ntp"),)] == 1
    assert samples["chrony_clients_connected", (("protocol", "nts"),)] == 0
    for name in ("last_ntp_hit_ago_seconds", "ntp_interval_seconds", "ntp_drops"):
        assert families[f"chrony_clients_{name}"].type == "histogram"
        assert samples[f"chrony_clients_{name}_count", ()] == 1
    interval = samples["chrony_clients_ntp_interval_seconds_sum", ()]
    assert interval == 2.0 ** int(row[3])  # chronyc's NTP Int, log2 seconds
    assert samples["chrony_clients_ntp_drops_sum", ()] == int(row[2])
    assert samples["chrony_clients_last_ntp_hit_ago_seconds_sum", ()] <= int(row[5]) + 1
