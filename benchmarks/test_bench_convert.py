"""Conversion speed: native (C reader over the test double) vs pure Python.

No I/O: the double's ``instant`` mode keeps its socket readable, so a native
read is one poll() plus libchrony-style getters and the C conversion. The
Python reader runs twice: ``python`` over the scripted MockSession (the generic
path, typed getters per field) and ``python-wire`` over the same records as
reply datagrams in memory (the fast path pychrony's protocol client takes: one
generated decoder per layout, see tests/reply_session.py). Each benchmark reads one whole
report; ``extra_info["records"]`` gives the records per read, so per-record
times are ``mean / records``. Nothing here asserts on time.

    python -m pytest benchmarks/test_bench_convert.py --benchmark-only \\
        --benchmark-group-by=param:report --benchmark-columns=mean,ops
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from double_scenario import linked_to_double, write_scenario
from reply_session import GenericView, ReplySession, scripted_replies

from pychrony import _backend, _reader_py
from pychrony.registry import REPORTS, REPORTS_BY_NAME
from pychrony.testing import (
    ChronyStateConfig,
    MockSession,
    RTCConfig,
    SourceConfig,
    expected_reports,
    scripted_state,
)

#: Eight NTP sources, so multi-record reports have eight records.
CONFIG = ChronyStateConfig(
    sources=[SourceConfig(address=f"192.0.2.{i}") for i in range(1, 9)],
    rtc=RTCConfig(),
)


def _records(report: str) -> int:
    value = expected_reports(CONFIG)[report]
    return len(value) if isinstance(value, list) else 1


@pytest.fixture(
    params=["python", "python-wire", pytest.param("native", marks=pytest.mark.c_extension)],
)
def implementation(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A function reading a report by name through one implementation, and a function
    giving what it must read."""
    if request.param == "python":
        session = MockSession(CONFIG)
        return _read(session), _expected
    if request.param == "python-wire":
        replies = ReplySession(scripted_replies(scripted_state(CONFIG)))
        # Floats went through chrony's 24-bit format: compare with the generic path.
        return _read(replies), _read(GenericView(replies))
    native = _backend.native
    if native is None or not linked_to_double():
        pytest.skip("native extension over the test double not built (ci/build_native.sh)")
    path = write_scenario(tmp_path / "bench.txt", CONFIG, instant=True)
    native_session = native.open_session(path, 1.0, 1)
    return lambda name: native.read_report(native_session, REPORTS_BY_NAME[name]), _expected


def _read(session: Any) -> Any:
    return lambda name: _reader_py.read_report(session, REPORTS_BY_NAME[name])


def _expected(name: str) -> Any:
    return expected_reports(CONFIG)[name]


@pytest.mark.parametrize("report", [r.name for r in REPORTS])
def test_convert(benchmark, implementation, report):
    benchmark.group = report
    benchmark.extra_info["records"] = _records(report)
    read, expected = implementation
    result = benchmark(read, report)
    assert result == expected(report)
