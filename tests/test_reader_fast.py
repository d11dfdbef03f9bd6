"""The Python reader's two paths agree: the fast one (one generated function per reply
layout, from the datagram) and the generic one (the session's typed getters).

For every report and layout, on good data and bad — out-of-range values, unknown
enum values, bad nanoseconds, unknown address families, random bytes — both give
equal dataclasses or raise the same exception with the same message.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from cmdmon_fake import Sources, fake_chronyd, record_values
from hypothesis import given, settings
from hypothesis import strategies as st
from reply_session import (
    FAST_PATH_HOOKS,
    GenericView,
    ReplySession,
    reply,
    scripted_replies,
)

from pychrony import ChronyConnection, _reader_py
from pychrony import registry as reg
from pychrony.exceptions import ChronyDataError, ChronyError
from pychrony.models import SourceMode
from pychrony.protocol import decoder, wire
from pychrony.registry import REPORTS, Report, Wire
from pychrony.testing import SCENARIOS, replace_field, scripted_state

LAYOUTS = [(report, response) for report in REPORTS for response in report.responses]
LAYOUT_IDS = [f"{report.name}-{response.code}" for report, response in LAYOUTS]


def outcome(session: Any, report: Report) -> Any:
    """What reading ``report`` gives: its value, or the exception's class and text."""
    try:
        return _reader_py.read_report(session, report)
    except ChronyError as exc:
        return type(exc), str(exc)


def assert_paths_agree(session: ReplySession, report: Report) -> Any:
    fast = outcome(session, report)
    generic = outcome(GenericView(session), report)
    assert fast == generic
    return fast


def test_every_layout_has_a_fast_decoder():
    for report, response in LAYOUTS:
        assert decoder.compile_decoder(report, response.code) is not None, report.name


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_paths_agree_on_every_scenario(scenario):
    state = scripted_state(SCENARIOS[scenario])
    session = ReplySession(scripted_replies(state))
    for report in REPORTS:
        if report.name not in state.disabled:
            value = assert_paths_agree(session, report)
            assert not isinstance(value, tuple), value  # good data reads without error


def _bad_values(field: reg.Field) -> list[Any]:
    low, high = field.bounds
    if field.wire is Wire.FLOAT:
        return [math.nan, math.inf, -math.inf, -1.0, -1e-30, 1e30, 0.0, -0.0]
    if field.wire is Wire.TIMESPEC:
        return [(5, 999_999_999), (5, 1_000_000_000), (0, 0xFFFFFFFF), (2**40, 0)]
    if field.wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
        return [None, "", "192.0.2.1", "2001:db8::1", "ID#0000000007"]
    wire_low, wire_high = reg.Field("", field.wire, field.content).bounds
    values = {wire_low, wire_high, 0, 1, 7, 17, 99, 255, 256}
    if low is not None:
        values |= {low, low - 1}
    if high is not None:
        values |= {high, high + 1}
    return sorted(v for v in values if v is not None and wire_low <= v <= wire_high)


BAD = [
    (report, response, field, value)
    for report, response in LAYOUTS
    for field in response.fields
    for value in _bad_values(field)
]


@pytest.mark.parametrize(
    ("report", "response", "field", "value"),
    BAD,
    ids=[f"{r.name}-{resp.code}-{f.name}-{v!r}" for r, resp, f, v in BAD],
)
def test_paths_agree_on_bad_and_edge_values(report, response, field, value):
    values = record_values(report, response)
    values[response.fields.index(field)] = value
    session = ReplySession({report.name: [(reply(response, values), "192.0.2.9")]})
    assert_paths_agree(session, report)


def test_paths_agree_on_scripted_bad_values():
    # The corruptions the reader validation tests use, through the wire.
    for report, field, value in [
        ("tracking", "stratum", 17),
        ("tracking", "leap status", 7),
        ("tracking", "RMS offset", -1.0),
        ("tracking", "reference time", (5, 1_000_000_000)),
        ("sources", "state", 9),
        ("sources", "mode", 3),
        ("sources", "reachability", 256),
        ("selectdata", "state", ord("?")),
        ("ntpdata", "mode", 7),
        ("authdata", "key type", 99),
    ]:
        from pychrony.testing import SCENARIO_MULTI_SOURCE

        state = replace_field(SCENARIO_MULTI_SOURCE, report, field, value)
        session = ReplySession(scripted_replies(state))
        got = assert_paths_agree(session, reg.REPORTS_BY_NAME[report])
        assert isinstance(got, tuple), (report, field, got)
        assert got[0] is ChronyDataError


@pytest.mark.parametrize("family", [4, 5, 0xFFFF])
@pytest.mark.parametrize(("report", "response"), LAYOUTS, ids=LAYOUT_IDS)
def test_paths_agree_on_unknown_address_family(report, response, family):
    layout = wire.REPORT_LAYOUTS[report.name][response.code]
    for field in response.fields:
        if field.wire not in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
            continue
        datagram = bytearray(reply(response, record_values(report, response)))
        start = layout.offsets[field.name]
        datagram[start + 16 : start + 18] = family.to_bytes(2, "big")
        session = ReplySession({report.name: [(bytes(datagram), "")]})
        got = assert_paths_agree(session, report)
        assert got == (ChronyDataError, f"chronyd sent an address of unknown family {family}")


def test_refclock_slot_agrees():
    response = reg.SOURCES.latest
    for refid in (0x47505300, 0x50505300, 0xC0000201, 0):
        values = record_values(reg.SOURCES, response)
        values[0] = refid
        values[[f.name for f in response.fields].index("mode")] = SourceMode.REFCLOCK.value
        session = ReplySession({"sources": [(reply(response, values), "")]})
        assert_paths_agree(session, reg.SOURCES)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("report", "response"), LAYOUTS, ids=LAYOUT_IDS)
def test_paths_agree_on_random_replies(report, response, data):
    """Random bodies: with sane address families and enums most of the time, so that
    the checks after the first field are reached too."""
    layout = wire.REPORT_LAYOUTS[report.name][response.code]
    size = layout.length - reg.RESPONSE_HEADER_LEN
    datagram = bytearray(reply(response, record_values(report, response)))
    datagram[reg.RESPONSE_HEADER_LEN :] = data.draw(st.binary(min_size=size, max_size=size))
    if data.draw(st.booleans()):
        for field in response.fields:
            start = layout.offsets[field.name]
            if field.wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
                family = data.draw(st.integers(0, 3))
                datagram[start + 16 : start + 18] = family.to_bytes(2, "big")
            elif field.enum is not None and field.conversion is reg.Conv.ENUM:
                member = data.draw(st.sampled_from(list(field.enum)))
                datagram[start : start + field.wire.size] = member.value.to_bytes(
                    field.wire.size, "big"
                )
    session = ReplySession({report.name: [(bytes(datagram), "192.0.2.9")]})
    assert_paths_agree(session, report)


@pytest.mark.parametrize(
    "raw",
    [0, 1, 0x00FFFFFF, 0x01000000, 0x01FFFFFF, 0x7E000000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF],
)
def test_inline_float_matches_decode_float(raw):
    assert _inline_float(raw) == wire.decode_float(raw)


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_inline_float_matches_decode_float_everywhere(raw):
    assert _inline_float(raw) == wire.decode_float(raw)


def test_inline_float_matches_decode_float_for_every_top_byte():
    for top in range(256):
        for low in (0, 1, 0x7FFFFF, 0x800000, 0xFFFFFF):
            raw = top << 24 | low
            assert _inline_float(raw) == wire.decode_float(raw), hex(raw)


def _inline_float(raw: int) -> float:
    """The generated decoders' float lines, run on their own."""
    lines = "".join(
        f"    {line.format(r='raw', v='v', t='(raw >> 24)')}\n" for line in decoder._FLOAT_LINES
    )
    namespace = {"_scale": wire.FLOAT_SCALE, "_offset": wire.FLOAT_OFFSET}
    exec(f"def f(raw):\n{lines}    return v\n", namespace)
    return namespace["f"](raw)  # type: ignore[no-any-return]


def test_real_session_paths_agree(tmp_path):
    """pychrony's protocol client: its fast path and its getters read the same."""
    sources = Sources(count=4, refclocks=frozenset({0}), unresolved=frozenset({3}))
    with (
        fake_chronyd(tmp_path, sources=sources) as fake,
        ChronyConnection(fake.address, backend="python") as conn,
    ):
        session = conn._session
        assert all(hasattr(session, hook) for hook in FAST_PATH_HOOKS)
        assert not any(hasattr(GenericView(session), hook) for hook in FAST_PATH_HOOKS)
        for report in REPORTS:
            fast = outcome(session, report)
            generic = outcome(GenericView(session), report)
            assert fast == generic, report.name
