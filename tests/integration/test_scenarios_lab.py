"""The unsynchronised presets against a real chronyd that is not synchronised.

A chronyd (``-x``: the clock is never touched) whose only server is a loopback
address nobody answers on, and one with no sources at all, built from the lab's own
pieces (pychrony.lab's LabDir and Daemons). What identifies "not synchronised" in
their tracking (reference ID and address, stratum, leap status, reference time, root
delay and dispersion, residual frequency and skew) must be what SCENARIO_UNSYNC,
SCENARIO_NO_SOURCES and SCENARIO_SYNC_LOST serve, and chronyc's CSV must agree.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pychrony import ChronyConnection, SourceState
from pychrony.lab import find_chronyc, find_chronyd
from pychrony.lab.chronyc import run_chronyc
from pychrony.lab.directory import LabDir, make_lab_dirs
from pychrony.lab.network import free_udp_port
from pychrony.lab.processes import Daemons
from pychrony.models import NEVER_SAMPLED, LeapStatus
from pychrony.testing import (
    SCENARIO_NO_SOURCES,
    SCENARIO_SYNC_LOST,
    SCENARIO_UNSYNC,
    ChronyStateConfig,
    expected_reports,
)

pytestmark = pytest.mark.integration

#: Nothing listens on this loopback address (the lab's unreachable sources use it too).
NOBODY = "127.0.1.1"
#: Tracking attributes that say "not synchronised", as chronyd 4.3 fills them.
UNSYNC_FIELDS = (
    "reference_id",
    "reference_ip",
    "stratum",
    "leap_status",
    "ref_time",
    "residual_freq",
    "skew",
    "root_delay",
    "root_dispersion",
)


def _start_unsynchronised(base: Path, servers: list[str]) -> tuple[Daemons, str]:
    chronyd = find_chronyd()
    if chronyd is None:
        message = "chronyd is not installed (apt-get install chrony; ci/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    layout = LabDir(base)
    make_lab_dirs(layout)
    socket_path = str(layout.command_socket("client"))
    lines = [
        *servers,
        "port 0",
        "cmdport 0",
        f"bindcmdaddress {socket_path}",
        f"pidfile {layout.pidfile('client')}",
        f"dumpdir {layout.dump}",
    ]
    layout.conf("client").write_text("\n".join(lines) + "\n")
    daemons = Daemons(die_with_parent=True)
    daemons.launch("client", chronyd, layout)
    deadline = time.monotonic() + 15
    while not os.path.exists(socket_path):
        if daemons.pid("client") is None or time.monotonic() > deadline:
            daemons.stop(5.0)
            pytest.fail(f"chronyd did not open {socket_path}: {layout.log('client').read_text()}")
        time.sleep(0.02)
    return daemons, socket_path


@pytest.fixture(scope="module")
def unreachable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The socket of a chronyd whose only server never answers."""
    port = free_udp_port(NOBODY)
    server = f"server {NOBODY} port {port} iburst minpoll -4 maxpoll -4"
    daemons, socket_path = _start_unsynchronised(tmp_path_factory.mktemp("unsync"), [server])
    yield socket_path
    daemons.stop(5.0)


@pytest.fixture(scope="module")
def no_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The socket of a chronyd with no sources configured."""
    daemons, socket_path = _start_unsynchronised(tmp_path_factory.mktemp("nosrc"), [])
    yield socket_path
    daemons.stop(5.0)


def _unsync_fields(config: ChronyStateConfig) -> dict[str, object]:
    tracking = expected_reports(config)["tracking"]
    return {name: getattr(tracking, name) for name in UNSYNC_FIELDS}


@pytest.mark.parametrize(
    ("daemon", "preset"),
    [
        ("unreachable_server", SCENARIO_UNSYNC),
        ("unreachable_server", SCENARIO_SYNC_LOST),
        ("no_sources", SCENARIO_NO_SOURCES),
        ("no_sources", SCENARIO_UNSYNC),
    ],
)
def test_unsynchronised_presets_report_what_chronyd_reports(request, backend, daemon, preset):
    socket_path = request.getfixturevalue(daemon)
    with ChronyConnection(socket_path, backend=backend) as conn:
        real = conn.get_tracking()
    assert {name: getattr(real, name) for name in UNSYNC_FIELDS} == _unsync_fields(preset)
    # what these values mean to a reader, a check and the exporter
    assert real.stratum == 0
    assert real.reference_id == 0
    assert real.leap_status is LeapStatus.UNSYNC
    assert not real.is_synchronized()


def test_chronyc_shows_the_preset_values(unreachable_server):
    chronyc = find_chronyc()
    assert chronyc is not None
    out = run_chronyc(chronyc, ["-h", unreachable_server], ["-c", "tracking"], timeout=10)
    assert out.returncode == 0, out.stderr
    row = out.stdout.strip().split(",")
    tracking = expected_reports(SCENARIO_UNSYNC)["tracking"]
    # chronyc -c tracking: ID, address, stratum, ref time, ..., root delay, root
    # dispersion, update interval, leap status
    assert row[0] == f"{tracking.reference_id:08X}"
    assert row[1] == tracking.reference_ip
    assert int(row[2]) == tracking.stratum
    assert float(row[3]) == tracking.ref_time
    assert (float(row[10]), float(row[11])) == (tracking.root_delay, tracking.root_dispersion)
    assert row[13] == "Not synchronised"


def test_the_never_answering_source_is_the_presets(unreachable_server, backend):
    preset = expected_reports(SCENARIO_UNSYNC)
    with ChronyConnection(unreachable_server, backend=backend) as conn:
        (source,) = conn.get_sources()
        (stats,) = conn.get_source_stats()
    (want_source,) = preset["sources"]
    (want_stats,) = preset["sourcestats"]
    assert source.state is want_source.state is SourceState.NONSELECTABLE
    assert (source.reachability, source.stratum) == (want_source.reachability, 0)
    assert source.last_sample_ago == want_source.last_sample_ago == NEVER_SAMPLED
    for name in ("samples", "runs", "span", "std_dev", "resid_freq", "skew", "offset"):
        assert getattr(stats, name) == getattr(want_stats, name), name
