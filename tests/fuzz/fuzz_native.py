"""Fuzz target: random records through the native reader (C test double) and the
pure-Python reader (mock session); the two must agree (hypothesis).

Run it in a process of its own (a crash of the extension then fails its caller
cleanly, see tests/fuzz/test_fuzz.py)::

    python tests/fuzz/fuzz_native.py --seed 1 --seconds 20
    python tests/fuzz/fuzz_native.py --replay tests/fuzz/regressions/native

Each example starts from a preset scenario and changes its raw records: any value
the wire type can carry (NaN, infinities, extreme integers, odd strings, unknown
enum values), a field of another wire type, a field missing (under a reply code
and a last field name of its own, so that both readers' per-layout plans stay
right), no records at all. Both readers must then raise the same ChronyError (class
and message) or return equal values. A failing example is written as JSON to
``--save DIR`` and replayed from ``tests/fuzz/regressions/native/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: double_scenario

from double_scenario import linked_to_double, render
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pychrony import _backend, _reader_py
from pychrony.exceptions import ChronyError
from pychrony.registry import REPORTS, REPORTS_BY_NAME, Field, Response, Wire
from pychrony.testing import SCENARIOS, MockSession, RawRecord, ScriptedState
from pychrony.testing.records import RawValue

_UNSIGNED = {Wire.UINT64: 64, Wire.UINT32: 32, Wire.UINT16: 16, Wire.UINT8: 8}
#: Signed wire types as libchrony's getter returns them: INT16 zero-extended, INT8
#: sign-extended (the double does the same; the mock returns the value as scripted).
_SIGNED = {Wire.INT16: (0, 2**16 - 1), Wire.INT8: (-(2**7), 2**7 - 1)}
_RETYPES = (Wire.UINT32, Wire.UINT16, Wire.INT8, Wire.FLOAT, Wire.TIMESPEC, Wire.ADDRESS)
#: Reports whose records the double finds by the sourcestats record's address.
_BY_ADDRESS = ("ntpdata", "authdata")
_FIXED = {"sourcestats"}  # its address slot decides those records: changed with care
_REFCLOCK = 2  # SourceMode.REFCLOCK
_DROP_CODE = 10_000  # reply codes of layouts with a field missing


# -- record shapes (registry layouts, a field missing or of another type) -------------


def shape(report: str, code: int, drop: int | None, retype: dict[int, Wire]) -> Response:
    """The layout of ``report`` reply ``code``, field ``drop`` removed, fields retyped."""
    response = REPORTS_BY_NAME[report].response(code)
    assert response is not None, (report, code)
    fields = [
        dataclasses.replace(f, wire=retype[i]) if i in retype else f
        for i, f in enumerate(response.fields)
    ]
    if drop is None:
        return dataclasses.replace(response, fields=tuple(fields))
    del fields[drop]
    # A unique last field name and reply code: both readers key their plans on them.
    fields.append(Field(f"fuzz pad {code}-{drop}", Wire.UINT32, response.fields[0].content))
    return Response(_DROP_CODE + 100 * code + drop, tuple(fields), response.since)


def values_for(wire: Wire) -> st.SearchStrategy[RawValue]:
    """Any raw value a field of ``wire`` can hold (as the session getters give it)."""
    if wire in _UNSIGNED:
        return st.integers(0, 2 ** _UNSIGNED[wire] - 1)
    if wire in _SIGNED:
        return st.integers(*_SIGNED[wire])
    if wire is Wire.FLOAT:
        return st.floats(allow_nan=True, allow_infinity=True)
    if wire is Wire.TIMESPEC:
        return st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
    # Addresses: libchrony's strings; no NUL (C strings), tab or newline (the file).
    text = st.text(st.characters(blacklist_characters="\0\t\n", blacklist_categories=("Cs",)))
    return st.none() | st.sampled_from(["", "192.0.2.1", "2001:db8::1", "ID#0000000001"]) | text


def _spec(record: RawRecord) -> dict[str, Any]:
    return {
        "code": record.response.code,
        "drop": None,
        "retype": {},
        "values": [_to_json(v) for v in record.values],
        "request_address": record.request_address,
    }


@functools.cache
def _preset(name: str) -> ScriptedState:
    from pychrony.testing import scripted_state

    return scripted_state(SCENARIOS[name])


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON-able spec of a preset with a few changes: {"records": {report: [spec]}}."""
    preset = draw(st.sampled_from(sorted(SCENARIOS)))
    state = _preset(preset)
    specs = {
        name: [None if r is None else _spec(r) for r in recs]
        for name, recs in state.records.items()
    }
    for _ in range(draw(st.integers(0, 1))):  # no records (single-record: an empty reply)
        specs[draw(st.sampled_from([n for n in specs if n not in (*_BY_ADDRESS, *_FIXED)]))] = []
    records = [(n, i) for n, recs in specs.items() for i, r in enumerate(recs) if r is not None]
    if not records:
        return {"preset": preset, "records": specs, "disabled": sorted(state.disabled)}
    drops: dict[tuple[str, int], int] = {}
    for _ in range(draw(st.integers(1, 8))):
        name, i = draw(st.sampled_from(records))
        spec = specs[name][i]
        assert spec is not None
        fields = REPORTS_BY_NAME[name].response(spec["code"]).fields  # type: ignore[union-attr]
        index = draw(st.integers(0, len(fields) - 1))
        field = fields[index]
        kind = draw(st.integers(0, 9))
        if field.wire is Wire.ADDRESS_OR_REFID or (name in _FIXED and field.wire is Wire.ADDRESS):
            continue  # set below / decides which records exist: left alone
        if kind == 0 and name not in _FIXED and (name, i) not in drops:
            if not (name == "sources" and field.attr == "mode"):
                drops[name, i] = index
        elif kind == 1:
            wire = draw(st.sampled_from([w for w in _RETYPES if w is not field.wire]))
            spec["retype"][str(index)] = wire.name
            spec["values"][index] = _to_json(draw(values_for(wire)))
        else:
            wire = Wire[spec["retype"].get(str(index), field.wire.name)]
            spec["values"][index] = _to_json(draw(values_for(wire)))
    for i, spec in enumerate(specs.get("sources", [])):
        # The address slot holds a reference ID exactly for refclocks (by the mode).
        assert spec is not None
        fields = REPORTS_BY_NAME["sources"].response(spec["code"]).fields  # type: ignore[union-attr]
        mode = next(n for n, f in enumerate(fields) if f.attr == "mode")
        refclock = _from_json(spec["values"][mode]) == _REFCLOCK  # as resolved_field() says
        address = spec["values"][0]
        if refclock and (not isinstance(address, int) or draw(st.integers(0, 7)) == 0):
            spec["values"][0] = draw(values_for(Wire.UINT32))
        elif not refclock and (isinstance(address, int) or draw(st.integers(0, 7)) == 0):
            spec["values"][0] = draw(values_for(Wire.ADDRESS))
        del i
    for (name, i), index in drops.items():
        spec = specs[name][i]
        assert spec is not None
        spec["drop"] = index
        del spec["values"][index]
        spec["values"].append(draw(values_for(Wire.UINT32)))
    return {"preset": preset, "records": specs, "disabled": sorted(state.disabled)}


# -- JSON (saved regressions) -------------------------------------------------------------


def _to_json(value: RawValue) -> Any:
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, tuple):
        return {"ts": list(value)}
    return value


def _from_json(value: Any) -> RawValue:
    if isinstance(value, dict):
        if "float" in value:
            return float.fromhex(value["float"])
        return (int(value["ts"][0]), int(value["ts"][1]))
    return value  # type: ignore[no-any-return]


def to_state(spec: dict[str, Any]) -> ScriptedState:
    """The scripted state a spec describes (records consistent for both readers)."""
    records: dict[str, list[RawRecord | None]] = {}
    for name, recs in spec["records"].items():
        out: list[RawRecord | None] = []
        for i, r in enumerate(recs):
            if r is None:
                out.append(None)
                continue
            retype = {int(k): Wire[v] for k, v in r["retype"].items()}
            response = shape(name, r["code"], r["drop"], retype)
            out.append(
                RawRecord(response, tuple(_from_json(v) for v in r["values"]), r["request_address"])
            )
            del i
        records[name] = out
    stats = records.get("sourcestats", [])
    for name in _BY_ADDRESS:  # asked by the sourcestats record's address, as libchrony does
        for i, record in enumerate(records.get(name, [])):
            address = stats[i].values[1] if i < len(stats) and stats[i] is not None else None
            if address is None:
                records[name][i] = None
            elif record is not None:
                assert isinstance(address, str)
                records[name][i] = dataclasses.replace(record, request_address=address)
    return ScriptedState(records, frozenset(spec["disabled"]))


# -- the property ----------------------------------------------------------------------------


def _outcome(read: Any, name: str) -> tuple[str, Any]:
    """("value", the result) or (exception class, message). Messages are compared
    where the readers wrote them (a field's conversion); the session's own errors
    (the double's libchrony codes, the mock's) differ in wording only."""
    try:
        return "value", read(name)
    except ChronyError as exc:
        message = str(exc)
        return type(exc).__name__, message if ": field " in message else "(session)"


def check(spec: dict[str, Any], workdir: Path) -> None:
    """Both readers agree on every report of ``spec`` (raises AssertionError if not)."""
    native = _backend.native
    assert native is not None, _backend.NATIVE_UNAVAILABLE_REASON
    state = to_state(spec)
    config = SCENARIOS[spec["preset"]]
    # libchrony cannot ask a source's name: the mock must not tell one either.
    unnamed = [dataclasses.replace(s, name=None) for s in config.sources]
    config = dataclasses.replace(config, sources=unnamed)
    path = workdir / "scenario.txt"
    path.write_text(render(state), encoding="utf-8")
    session = native.open_session(str(path), 1.0, 1)
    mock = MockSession(config, state)
    try:
        for report in REPORTS:
            ours = _outcome(lambda n: native.read_report(session, REPORTS_BY_NAME[n]), report.name)
            theirs = _outcome(
                lambda n: _reader_py.read_report(mock, REPORTS_BY_NAME[n]), report.name
            )
            assert ours == theirs, f"{report.name}: native {ours!r} != python {theirs!r}"
            if ours[0] == "value":
                _check_finite(ours[1])
    finally:
        session.close()


def _check_finite(value: Any) -> None:
    for record in value if isinstance(value, list) else [value]:
        if record is None:
            continue
        for f in dataclasses.fields(record):
            v = getattr(record, f.name)
            assert not isinstance(v, float) or math.isfinite(v), (f.name, v)


# -- running -----------------------------------------------------------------------------------


class _TimeUp(BaseException):
    """Ends the run at its time budget (hypothesis lets BaseExceptions through)."""


def fuzz(seed_value: int, seconds: float, save: Path | None) -> int:
    """Run examples for about ``seconds``; returns how many ran."""
    workdir = Path(tempfile.mkdtemp(prefix="pychrony-fuzz-native-"))
    deadline = time.monotonic() + seconds
    ran = [0]
    failures: list[Path] = []

    @seed(seed_value)
    @settings(
        max_examples=10**6,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(scenarios())
    def run(spec: dict[str, Any]) -> None:
        # Out of time: stop, unless shrinking a failure (given a minute more).
        if time.monotonic() > deadline + (60 if failures else 0):
            raise _TimeUp
        ran[0] += 1
        try:
            check(spec, workdir)
        except AssertionError:
            path = (save or workdir) / f"seed{seed_value}-{ran[0]}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(spec, indent=1))
            failures.append(path)
            raise

    try:
        run()
    except _TimeUp:
        if failures:  # the smallest failing example is the last one saved
            raise AssertionError(f"fuzz_native failed; examples saved: {failures}") from None
    finally:
        for p in workdir.iterdir():
            if p.name == "scenario.txt":
                p.unlink()
        if not any(workdir.iterdir()):
            workdir.rmdir()
    return ran[0]


def replay(directory: Path) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pychrony-fuzz-native-"))
    try:
        files = sorted(directory.glob("*.json"))
        for path in files:
            print(f"replay {path.name}", flush=True)
            check(json.loads(path.read_text()), workdir)
    finally:
        for p in workdir.iterdir():
            p.unlink()
        workdir.rmdir()
    return len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--save", type=Path, help="write failing examples here as JSON")
    parser.add_argument("--replay", type=Path, help="check the saved examples in this directory")
    args = parser.parse_args()
    if not linked_to_double():
        sys.exit("fuzz_native: the extension is not built against the test double")
    if args.replay is not None:
        print(f"replayed {replay(args.replay)} examples")
        return
    start = time.monotonic()
    n = fuzz(args.seed, args.seconds, args.save)
    elapsed = time.monotonic() - start
    print(f"fuzz_native: seed {args.seed}: {n} examples in {elapsed:.1f} s ({n / elapsed:.0f}/s)")


if __name__ == "__main__":
    main()
