"""pychrony vs its peers on real lab chronyds with 1, 8 and 64 sources, interleaved.

Each ``test_peers`` starts a lab (:mod:`pychrony.lab`), one worker process per
contender, and runs interleaved rounds through ``benchmark.pedantic`` (one
pytest-benchmark round = one batch of every operation from every contender, in
a shuffled order; pytest-benchmark's own figure is the round's length). The
per-contender medians land in ``extra_info`` and, with ``--bench-json``, in the
results file that ``peers.py render`` turns into the README's table. Nothing
here asserts on time; the checks are that every contender read the same number
of records.

    pytest benchmarks/test_bench_peers.py --bench-json results.json   # full run
    pytest benchmarks --benchmark-disable --bench-quick                # CI
"""

from __future__ import annotations

import contextlib

import pytest
from peers import GROWTH_LAB, LAB_SIZES, LABELS, LabBench, PeerSession, import_cost
from placement import CHRONYD_CPU, can_pin, pinned
from pytest_benchmark.fixture import BenchmarkFixture

from pychrony.lab import Lab


@pytest.mark.parametrize("key", list(LABELS))
def test_contender_available(peer_session: PeerSession, key: str) -> None:
    peer_session.skip_or_fail(key)


@pytest.mark.parametrize("sources", LAB_SIZES)
def test_peers(benchmark: BenchmarkFixture, peer_session: PeerSession, sources: int) -> None:
    config = peer_session.config
    if not config.quick:
        for key in peer_session.skipped:
            peer_session.skip_or_fail(key)
    # chronyd on its own CPU; the contenders' workers pin themselves to the other
    placed = pinned(CHRONYD_CPU) if can_pin() else contextlib.nullcontext()
    with placed, Lab(sources=sources, refclock=False) as lab:
        bench = LabBench(lab.socket_path, sources, peer_session.available, config)
        bench.start()
        try:
            benchmark.group = f"peers, {sources} sources: one interleaved round"
            benchmark.pedantic(  # type: ignore[no-untyped-call]
                bench.round, rounds=config.rounds, iterations=1
            )
            if bench.rounds_done == 0:  # --benchmark-disable ran nothing; run one round
                bench.round()
            result = bench.result(growth=sources == GROWTH_LAB)
        finally:
            bench.close()
    peer_session.results["labs"][str(sources)] = result

    expected = {"tracking": 1, "sources": sources, "snapshot": 1 + 2 * sources}
    for key, entry in result["contenders"].items():
        for op, stats in entry["ops"].items():
            benchmark.extra_info[f"{key} {op} median µs"] = round(stats["median_us"], 2)
            assert stats["records"] == expected[op], (key, op, stats["records"])


def test_import_cost(peer_session: PeerSession) -> None:
    config = peer_session.config
    skipped = peer_session.skipped
    ours = "pychrony, native extension" if "native" not in skipped else "pychrony"
    runs = {
        ours: (config.native_python, {}),
        "pychrony, PYCHRONY_NO_EXTENSIONS=1": (
            config.native_python,
            {"PYCHRONY_NO_EXTENSIONS": "1"},
        ),
    }
    if config.pychrony2_python and "pychrony2" not in skipped:
        runs["pychrony 2.0.3"] = (config.pychrony2_python, {})
    for label, (python, env) in runs.items():
        cost = import_cost(python, config.import_repeats, env)
        peer_session.results["imports"][label] = cost
        assert cost["import_kib"] > 0
