"""One fake chronyd process serving a fleet of 1,000 UDP targets.

A monitoring system's fleet test needs many chronyds; :class:`FakeChronyd` binds
``udp_targets`` UDP sockets in one process and serves all of them from one
thread. Measured here, with the client in another process so the two do not
share a GIL:

* **bind**: seconds to bind the 1,000 sockets and start serving;
* **sweep**: a raw client sends one tracking request to every target at once
  and collects the 1,000 replies (the server's throughput, replies/s);
* **pychrony**: ``ChronyConnection(target, backend="python").get_tracking()``
  for every target in turn (what an agent's fleet poll costs per target).

Nothing asserts on time; the checks are that every target answered, with the
scenario's value.

    pytest benchmarks/test_bench_fake_fleet.py --benchmark-disable -s   # prints the figures
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pychrony.testing import SCENARIO_MULTI_SOURCE, FakeChronyd

_CLIENT = r"""
import json, socket, sys, time
from pychrony import ChronyConnection
from pychrony.protocol import wire
from pychrony import registry as reg

ports = json.loads(sys.argv[1])
rounds = int(sys.argv[2])
request_length = wire.request_length(reg.TRACKING)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.settimeout(5.0)
sweeps = []
for r in range(rounds):
    start = time.perf_counter()
    for i, port in enumerate(ports):
        sequence = r << 16 | i
        packet = wire.encode_request(reg.TRACKING.record_request, sequence, 0, b"", request_length)
        sock.sendto(packet, ("127.0.0.1", port))
    seen = set()
    while len(seen) < len(ports):
        reply = sock.recv(2048)
        key = wire.REPLY_KEY.unpack_from(reply)
        assert key[5] == 0, key
        seen.add(key[6])
    sweeps.append(time.perf_counter() - start)
start = time.perf_counter()
strata = set()
for port in ports:
    with ChronyConnection(f"127.0.0.1:{port}", backend="python", timeout=2.0) as conn:
        strata.add(conn.get_tracking().stratum)
polled = time.perf_counter() - start
print(json.dumps({"sweeps": sweeps, "pychrony_s": polled, "strata": sorted(strata)}))
"""


@pytest.fixture
def targets(request: pytest.FixtureRequest) -> int:
    return 100 if request.config.getoption("--bench-quick") else 1000


def test_one_process_serves_a_fleet_of_udp_targets(
    benchmark: BenchmarkFixture, targets: int
) -> None:
    start = time.perf_counter()
    fake = FakeChronyd(SCENARIO_MULTI_SOURCE, unix=False, udp_targets=targets).start()
    bind_s = time.perf_counter() - start
    try:
        ports = [port for _, port in fake.udp_addresses]
        assert len(set(ports)) == targets

        def run() -> dict[str, object]:
            out = subprocess.run(
                [sys.executable, "-c", _CLIENT, json.dumps(ports), "5"],
                capture_output=True, text=True, timeout=300, check=True,
            )  # fmt: skip
            return json.loads(out.stdout)  # type: ignore[no-any-return]

        result = benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
        if result is None:  # --benchmark-disable
            result = run()
    finally:
        fake.stop()
    sweeps = sorted(result["sweeps"])  # type: ignore[arg-type]
    median = sweeps[len(sweeps) // 2]
    figures = {
        "targets": targets,
        "bind s": round(bind_s, 3),
        "sweep median ms": round(median * 1e3, 1),
        "replies/s": round(targets / median),
        "pychrony per target ms": round(result["pychrony_s"] / targets * 1e3, 3),  # type: ignore[operator]
    }
    benchmark.extra_info.update(figures)
    print(figures)
    assert result["strata"] == [SCENARIO_MULTI_SOURCE.stratum]
    assert fake.requests >= targets * 6  # 5 sweeps and the pychrony poll reached every target
