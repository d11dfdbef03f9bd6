"""The fuzzers in CI: a bounded run of each, and every saved regression replayed.

* ``fuzz_wire.py`` (atheris, coverage-guided): chronyd replies into the pure-Python
  client, for ``WIRE_SECONDS``. atheris is a test dependency wherever it has a
  wheel (see pyproject.toml); there its absence fails the run.
* ``fuzz_native.py`` (hypothesis): random records through the native reader over
  the C test double and the pure-Python reader over the mock, for
  ``NATIVE_SECONDS``, in a subprocess so that a crash of the extension fails the
  test with the seed to reproduce it.

The bounded runs are marked ``fuzz`` (deselect with ``-m "not fuzz"``); the
regression replays are ordinary, quick tests. A crash found in CI is left in the
test's temporary directory: copy it to ``tests/fuzz/regressions/<target>/``.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import fuzz_native
import fuzz_wire
import pytest
from double_scenario import linked_to_double, render
from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
WIRE_REGRESSIONS = sorted((HERE / "regressions" / "wire").iterdir())
NATIVE_REGRESSIONS = HERE / "regressions" / "native"
WIRE_SECONDS = 25
NATIVE_SECONDS = 25


def _atheris_expected() -> bool:
    """True where pychrony's ``test`` extra installs atheris (its marker says so)."""
    for text in importlib.metadata.requires("pychrony") or []:
        requirement = Requirement(text)
        if requirement.name == "atheris":
            return requirement.marker is None or requirement.marker.evaluate({"extra": "test"})
    return False


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), env.get("PYTHONPATH", "")])
    return env


# -- regressions: every saved crash, replayed -----------------------------------------


@pytest.mark.parametrize("path", WIRE_REGRESSIONS, ids=lambda p: p.name)
def test_wire_regression(path):
    fuzz_wire.check(path.read_bytes())


def test_wire_regressions_exist():
    assert any(p.name.startswith("count-beyond") for p in WIRE_REGRESSIONS)


def test_wire_seeds_are_valid_replies_read_without_error():
    for name, data in fuzz_wire.seeds().items():
        assert (HERE / "corpus" / "wire" / name).read_bytes() == data, (
            f"re-run --make-seeds: {name}"
        )
        fuzz_wire.check(data)


def test_wire_harness_catches_a_runaway_session(monkeypatch):
    # The property is not vacuous: without the bound on the record count, a reply
    # claiming 2**32 - 16 sources runs away (caught at RUNAWAY requests).
    from pychrony import _reader_py

    monkeypatch.setattr(_reader_py, "MAX_RECORDS", 2**32)
    monkeypatch.setattr(fuzz_wire, "RUNAWAY", 1000)
    data = (HERE / "regressions" / "wire" / "count-beyond-chronyd-limit").read_bytes()
    with pytest.raises(AssertionError, match="runaway"):
        fuzz_wire.check(data)


@pytest.fixture
def native_over_double() -> None:
    """The native fuzzers need the extension over the C double (CI builds it, and
    tests/test_native.py::test_native_built fails the run where it is missing)."""
    from pychrony import _backend

    if _backend.native is None:
        pytest.skip(f"native extension not built: {_backend.NATIVE_UNAVAILABLE_REASON}")
    if not linked_to_double():
        pytest.skip("the native extension is linked to a real libchrony, not the test double")


@pytest.mark.c_extension
@pytest.mark.usefixtures("native_over_double")
def test_native_regressions_replay():
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_native.py"), "--replay", str(NATIVE_REGRESSIONS)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    saved = len(list(NATIVE_REGRESSIONS.glob("*.json")))
    assert saved >= 3
    assert f"replayed {saved} examples" in result.stdout


def test_native_fuzz_spec_round_trips_through_json():
    import json

    from hypothesis import given, settings

    @settings(max_examples=30, deadline=None, database=None)
    @given(fuzz_native.scenarios())
    def round_trip(spec):
        again = json.loads(json.dumps(spec))
        assert again == spec
        # NaN != NaN: compare the scenario files (floats in hex) instead of the records.
        assert render(fuzz_native.to_state(again)) == render(fuzz_native.to_state(spec))

    round_trip()


# -- bounded fuzzing runs ------------------------------------------------------------------


@pytest.mark.fuzz
def test_fuzz_wire(tmp_path):
    if not _atheris_expected():
        pytest.skip("atheris has no wheel for this interpreter/platform (see pyproject.toml)")
    try:
        import atheris  # noqa: F401
    except ImportError:
        pytest.fail("atheris should be installed here (pip install -e '.[test]')")
    new = tmp_path / "corpus"
    new.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_wire.py"),
            f"-max_total_time={WIRE_SECONDS}",
            "-timeout=20",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
            str(new),
            str(HERE / "corpus" / "wire"),
        ],
        capture_output=True,
        text=True,
        timeout=WIRE_SECONDS + 120,
        env=_env(),
        cwd=tmp_path,
    )
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name != "corpus")
    report = f"fuzz_wire found {crashes} in {tmp_path}:\n{result.stderr[-6000:]}"
    assert not crashes, report
    assert result.returncode == 0, report
    assert "stat::number_of_executed_units" in result.stderr


@pytest.mark.fuzz
@pytest.mark.c_extension
@pytest.mark.usefixtures("native_over_double")
def test_fuzz_native(tmp_path):
    seed = int.from_bytes(os.urandom(4), "big")
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_native.py"),
            f"--seed={seed}",
            f"--seconds={NATIVE_SECONDS}",
            f"--save={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=NATIVE_SECONDS + 120,
        env=_env(),
    )
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert result.returncode == 0, (
        f"fuzz_native --seed={seed} failed (exit {result.returncode}; a negative exit is a "
        f"crash of the extension); saved: {saved} in {tmp_path}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    assert "examples in" in result.stdout
