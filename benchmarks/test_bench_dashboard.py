"""The dashboard's kept history: its memory when full, and the time to turn it into the
page's view (what every open tab asks for every refresh).

Memory is measured with tracemalloc over a History filled to its window, for 1, 8 and
64 reachable sources, at the default window (600 s) and at the longest accepted (a
day), one point per 2 s and every source sampled as often (the worst case: real
sources are sampled once per poll, 64 s and more); ``extra_info`` carries the bytes.
Nothing here asserts on time; the figures go to the benchmark report
(``--benchmark-json``).

    python -m pytest benchmarks/test_bench_dashboard.py --benchmark-only \\
        --benchmark-columns=mean,ops
"""

from __future__ import annotations

import dataclasses
import tracemalloc
from typing import Any

import pytest

from pychrony import ChronyConnection
from pychrony.dashboard.history import DEFAULT_HISTORY, MAX_HISTORY, History
from pychrony.dashboard.reader import Known, Reading
from pychrony.dashboard.view import view
from pychrony.testing import ChronyStateConfig, SourceConfig, patched_chrony_connection

INTERVAL = 2.0


def _reports(sources: int) -> tuple[Any, list[Any], list[Any]]:
    config = ChronyStateConfig(
        sources=[SourceConfig(address=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(sources)]
    )
    with patched_chrony_connection(config), ChronyConnection() as conn:
        return conn.get_tracking(), conn.get_sources(), conn.get_source_stats()


def _fill(window: float, sources: int, quick: bool) -> tuple[History, int]:
    """A history filled to its window (``quick``: a tenth of it); the bytes it holds."""
    tracking, records, _ = _reports(sources)
    # each source sampled 1 s before every read
    records = [dataclasses.replace(s, last_sample_ago=1) for s in records]
    history = History(window, min_interval=INTERVAL)
    steps = history.maxlen // (10 if quick else 1)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(steps):
            when = INTERVAL * i
            history.add_tracking(when, dataclasses.replace(tracking, offset=i * 1e-9))
            history.add_sources(when + 1, records)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return history, held


@pytest.mark.parametrize("sources", [1, 8, 64])
@pytest.mark.parametrize("window", [DEFAULT_HISTORY, MAX_HISTORY], ids=["10min", "1day"])
def test_history_memory_and_view_time(
    benchmark: Any, request: pytest.FixtureRequest, window: float, sources: int
) -> None:
    quick = bool(request.config.getoption("--bench-quick"))
    if quick and window == MAX_HISTORY and sources == 64:
        pytest.skip("--bench-quick: a day with 64 sources takes a while to fill")
    history, held = _fill(window, sources, quick)
    points = len(history)
    benchmark.extra_info.update(
        window_s=window,
        sources=sources,
        points=points,
        bytes=held,
        bytes_per_point=round(held / points, 1),
        mib=round(held / 2**20, 2),
    )
    tracking, records, stats = _reports(sources)
    now = INTERVAL * (history.maxlen // (10 if quick else 1))
    reading = Reading(
        values={"tracking": tracking, "sources": records, "sourcestats": stats, "rtcdata": None},
        taken_at=now,
    )
    known = {name: Known(value, now) for name, value in reading.values.items()}
    page = benchmark(view, reading, known, history, last_success=now, last_attempt=now, now=now)
    assert page["charts"]["sources"]["lines"] == sources
