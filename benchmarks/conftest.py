"""Options and fixtures of the benchmark suites.

``--bench-quick`` is CI's quick mode: one tiny round of everything, contenders
that need what only ``ci/bench.sh`` installs (a native extension over a real
libchrony, the pychrony 2.0.3 virtualenv) are skipped with their reason. Without
it a missing contender fails the run: the table must compare all of them.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # beside this file

DEFAULT_PYCHRONY2 = peers.HERE / ".venvs" / "pychrony2" / "bin" / "python"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pychrony benchmarks")
    group.addoption(
        "--bench-quick",
        action="store_true",
        help="CI quick mode: one tiny round, skip contenders only ci/bench.sh installs",
    )
    group.addoption("--bench-json", type=Path, help="write the peer comparison's results here")
    group.addoption("--bench-rounds", type=int, help="interleaved rounds per lab (default 40)")
    group.addoption(
        "--native-python",
        help="interpreter whose pychrony has the native extension over a real libchrony "
        "(default: this one); the python backend runs under it too",
    )
    group.addoption(
        "--pychrony2-python",
        help=f"interpreter of the virtualenv holding pychrony 2.0.3 (default: {DEFAULT_PYCHRONY2})",
    )
    group.addoption("--wire-floor", help="a built wire_floor (default: compile wire_floor.c)")


@pytest.fixture(scope="session")
def peer_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[peers.PeerSession]:
    """Configuration, available contenders, and the results file at the end."""
    from pychrony.lab import ensure_chrony

    opt = request.config.getoption
    chronyd, chronyc = ensure_chrony()
    wire_floor = opt("--wire-floor") or str(peers.build_wire_floor(tmp_path_factory.mktemp("wf")))
    native_python = opt("--native-python") or sys.executable
    pychrony2 = opt("--pychrony2-python") or (
        str(DEFAULT_PYCHRONY2) if DEFAULT_PYCHRONY2.exists() else None
    )
    config = peers.Config.for_mode(
        opt("--bench-quick"),
        rounds=opt("--bench-rounds"),
        wire_floor=wire_floor,
        chronyc=chronyc,
        python=native_python,
        native_python=native_python,
        pychrony2_python=pychrony2,
    )
    available, skipped = [], {}
    for contender in peers.contenders(config):
        reason = peers.probe(contender)
        if reason is None:
            available.append(contender)
        else:
            skipped[contender.key] = reason
    session = peers.PeerSession(config, available, skipped)
    session.results = {
        "machine": peers.machine_info(chronyd),
        "command": os.environ.get("PYCHRONY_BENCH_COMMAND")
        or shlex.join(["pytest", *request.config.invocation_params.args]),
        "config": {
            "quick": config.quick,
            "rounds": config.rounds,
            "batch_seconds": config.batch_seconds,
            "interpreters": {c.key: c.argv[0] for c in available},
        },
        "skipped": skipped,
        "labs": {},
        "imports": {},
    }
    yield session
    out = opt("--bench-json")
    if out and session.results["labs"]:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(session.results, indent=1) + "\n")
