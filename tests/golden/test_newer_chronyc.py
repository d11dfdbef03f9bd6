"""pychrony agrees with a newer release's ``chronyc -c`` on the columns 4.3 lacks.

It runs with ``$PYCHRONY_CHRONYD`` and ``$PYCHRONY_CHRONYC`` naming another chrony
release's programs, e.g. the 4.6 wrappers of tests/golden/fetch_chronyd.py::

    PYCHRONY_CHRONYD=/opt/chrony-4.6/chronyd PYCHRONY_CHRONYC=/opt/chrony-4.6/chronyc \
        python -m pytest tests/golden/test_newer_chronyc.py tests/integration/test_lab_chronyc.py

ci/test.sh does that in its chronyd 4.6 pass (with ``PYCHRONY_REQUIRE_NEWER_CHRONY=1``:
missing programs fail there instead of skipping); its main pass deselects the
``newer_chrony`` marker.

tests/integration/test_lab_chronyc.py checks every report's 4.3 columns; this
checks what 4.4 added to ``serverstats`` (the daemon/kernel/hardware timestamp
counts) and 4.6 to ``ntpdata`` (the kernel and hardware timestamp totals), on
both daemons of a lab: the server, whose counts move as the client polls it, and
the client.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from chronyc_csv import Rows, snapshot

from pychrony import ChronyConnection
from pychrony.lab import Lab, find_chronyc, find_chronyd
from pychrony.lab.install import CHRONYC_ENV, CHRONYD_ENV
from pychrony.protocol import codec

_MISSING = not (os.environ.get(CHRONYD_ENV) and os.environ.get(CHRONYC_ENV))
_REQUIRED = os.environ.get("PYCHRONY_REQUIRE_NEWER_CHRONY") == "1"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.newer_chrony,
    pytest.mark.skipif(
        _MISSING and not _REQUIRED,
        reason=f"${CHRONYD_ENV}/${CHRONYC_ENV} do not name another chrony release",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def _programs_named() -> None:
    if _MISSING:  # only reached when required
        pytest.fail(f"PYCHRONY_REQUIRE_NEWER_CHRONY=1 but ${CHRONYD_ENV}/${CHRONYC_ENV} are unset")


def _version(program: str) -> str:
    said = subprocess.run([program, "-v"], capture_output=True, text=True, check=True).stdout
    return said.split()[3]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    chronyd, chronyc = find_chronyd(), find_chronyc()
    assert chronyd is not None
    assert chronyc is not None
    assert _version(chronyd) == _version(chronyc)
    with Lab(sources=2, refclock=False) as started:
        yield started


@pytest.fixture(scope="module")
def version(lab: Lab) -> str:
    return _version(find_chronyd() or "chronyd")


@pytest.fixture(params=["client", "server"])
def daemon(request: pytest.FixtureRequest, lab: Lab) -> str:
    return lab.socket_path if request.param == "client" else lab.server_socket_path


def _rows(socket_path: str, *args: str) -> Rows:
    out = subprocess.run(
        [find_chronyc() or "chronyc", "-h", socket_path, "-c", "-n", *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return [row for row in csv.reader(io.StringIO(out)) if row]


#: chronyc's serverstats columns after the command count (column 2), in order.
_SERVERSTATS_COLUMNS = (
    "dropped_command_requests",
    "dropped_client_log_records",
    "nts_ke_connections",
    "dropped_nts_ke_connections",
    "authenticated_ntp_requests",
    "interleaved_ntp_requests",
    "held_ntp_timestamps",
    "ntp_timestamp_span",
    "daemon_rx_timestamps",
    "daemon_tx_timestamps",
    "kernel_rx_timestamps",
    "kernel_tx_timestamps",
    "hw_rx_timestamps",
    "hw_tx_timestamps",
)


def _since(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def test_serverstats_every_column(lab, daemon, version):
    if _since(codec.profile(version).layouts["serverstats"].since) < (4, 4):
        pytest.skip(f"chronyc {version} prints no timestamp counts")

    def key(s: Any) -> Any:  # all but the command count, which our reads raise
        return [getattr(s, name) for name in ("ntp_requests", *_SERVERSTATS_COLUMNS)]

    with ChronyConnection(daemon, backend="python") as conn:
        before, (row,), after = snapshot(
            conn.get_server_stats, lambda: _rows(daemon, "serverstats"), key
        )
    assert len(row) == 3 + len(_SERVERSTATS_COLUMNS)
    assert [int(row[0]), int(row[1])] == [after.ntp_requests, after.dropped_ntp_requests]
    assert before.command_requests < int(row[2]) < after.command_requests
    assert [int(x) for x in row[3:]] == [getattr(after, name) for name in _SERVERSTATS_COLUMNS]
    if daemon == lab.server_socket_path:
        # The server answered the client's polls, each timestamped.
        assert after.ntp_requests > 0
        assert after.kernel_rx_timestamps + after.daemon_rx_timestamps > 0


def test_ntpdata_total_columns(lab, daemon, version):
    if _since(codec.profile(version).layouts["ntpdata"].since) < (4, 6):
        pytest.skip(f"chronyc {version} prints no timestamp totals")
    with ChronyConnection(daemon, backend="python") as conn:
        _, rows, ntp = snapshot(conn.get_ntp_data, lambda: _rows(daemon, "ntpdata"), list)
    assert [n.remote_address for n in ntp] == [row[0] for row in rows]
    if daemon == lab.socket_path:
        assert ntp, "the client has NTP sources"
    for n, row in zip(ntp, rows, strict=True):
        assert len(row) == 38
        totals = [
            n.tx_messages,
            n.rx_messages,
            n.rx_valid_messages,
            n.rx_good_messages,
            n.kernel_tx_timestamps,
            n.kernel_rx_timestamps,
            n.hw_tx_timestamps,
            n.hw_rx_timestamps,
        ]
        assert [int(x) for x in row[30:38]] == totals
