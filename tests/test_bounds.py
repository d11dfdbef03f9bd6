"""Every registry bound, fuzzed at its edges, on every reader (issue 14, point 5).

The cases come from the registry itself (``registry.py``, whose comments cite the
chrony source guaranteeing each bound): for every bounded field a value just
inside is read back as sent and one just outside raises a ChronyDataError naming
the field; for every enum field each member is accepted and the first values
outside the set are refused; every other numeric field (peer-copied stratum,
poll, precision, version, reference ID, counters...) takes its wire type's
extremes without an error. Two routes, four readers:

* ``open_reader``: a scripted record read by the python reader (MockSession) and
  by the native reader over the C test double (``bash ci/build_native.sh``);
* ``backend``: real datagrams from a fake chronyd (``cmdmon_fake``) read by
  ``ChronyConnection`` over pychrony's own protocol client and over the real
  libchrony (marker ``real_libchrony``, run from build/real-libchrony/src); this
  route also covers the clients report (pychrony's own client on both backends).

chrony's 32-bit float format has no NaN nor infinity (chrony util.c
UTI_FloatHostToNetwork saves a NaN as zero, saturates at about 9.2e18): on the
wire the float extremes are the format's largest magnitudes; the scripted route
also feeds NaN and infinities, which no chronyd sends, and they are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cmdmon_fake import Request, Sources, default_responder, fake_chronyd, record_values

from pychrony import ChronyConnection
from pychrony import registry as reg
from pychrony._clients import encode_page_reply
from pychrony.exceptions import ChronyDataError
from pychrony.models import SourceMode
from pychrony.protocol import wire as _wire
from pychrony.registry import Conv, Field, Report, Wire
from pychrony.testing import ChronyStateConfig, RTCConfig, SourceConfig, replace_field

#: One NTP source and an RTC: every report of libchrony's has exactly one record.
CONFIG = ChronyStateConfig(sources=[SourceConfig()], rtc=RTCConfig(available=True))
#: The same with a refclock: its sources record holds a reference ID, not an address.
REFCLOCK = ChronyStateConfig(sources=[SourceConfig(address="GPS", mode=SourceMode.REFCLOCK)])
#: The largest magnitudes of chrony's float format (exponent 63, full coefficient).
FLOAT_MAX = _wire.decode_float(_wire.encode_float(math.inf))
FLOAT_MIN = _wire.decode_float(_wire.encode_float(-math.inf))
#: A negative value chrony's float format holds exactly: just below a bound of 0.
JUST_BELOW_ZERO = -(2.0**-40)
_INT_WIRES = (Wire.UINT64, Wire.UINT32, Wire.UINT16, Wire.UINT8, Wire.INT16, Wire.INT8)


@dataclass(frozen=True)
class Case:
    """One raw value of one field, and whether the readers must accept it."""

    report: Report
    field: Field
    raw: Any
    ok: bool

    @property
    def id(self) -> str:
        verdict = "ok" if self.ok else "refused"
        return f"{self.report.name}.{self.field.attr}={self.raw!r}:{verdict}"


def _wire_limits(field: Field) -> tuple[int, int]:
    low, high = reg.Field("", field.wire, field.content).bounds
    assert low is not None
    assert high is not None
    return int(low), int(high)


def _enum_cases(report: Report, field: Field) -> Iterator[Case]:
    assert field.enum is not None
    members = sorted(member.value for member in field.enum)  # type: ignore[attr-defined]
    for value in members:
        yield Case(report, field, value, True)
    wire_low, wire_high = _wire_limits(field)
    outside = next(v for v in range(wire_low, wire_high + 1) if v not in members)
    yield Case(report, field, outside, False)
    if members[-1] + 1 <= wire_high and members[-1] + 1 != outside:
        yield Case(report, field, members[-1] + 1, False)
    if wire_high not in members:
        yield Case(report, field, wire_high, False)


def _int_cases(report: Report, field: Field) -> Iterator[Case]:
    wire_low, wire_high = _wire_limits(field)
    low, high = field.bounds
    assert low is not None
    assert high is not None
    yield Case(report, field, int(low), True)
    yield Case(report, field, int(high), True)
    if low > wire_low:
        yield Case(report, field, int(low) - 1, False)
    if high < wire_high:
        yield Case(report, field, int(high) + 1, False)
    if 0 not in (low, high) and low <= 0 <= high:
        yield Case(report, field, 0, True)


def _float_cases(report: Report, field: Field) -> Iterator[Case]:
    low, high = field.bounds
    yield Case(report, field, 0.0, True)
    yield Case(report, field, FLOAT_MAX, high is None or high >= FLOAT_MAX)
    if low is None:
        yield Case(report, field, FLOAT_MIN, True)
    else:
        assert low == 0, f"{report.name}.{field.name}: a float bound this suite cannot place"
        yield Case(report, field, JUST_BELOW_ZERO, False)
    assert high is None, f"{report.name}.{field.name}: a float bound this suite cannot place"


def _time_cases(report: Report, field: Field) -> Iterator[Case]:
    low, high = field.bounds
    assert high is None, f"{report.name}.{field.name}"
    assert low in (None, 0), f"{report.name}.{field.name}"
    yield Case(report, field, (0, 0), True)
    yield Case(report, field, (2**40, 999_999_999), True)
    if low == 0:
        yield Case(report, field, (-1, 0), False)


def cases(reports: tuple[Report, ...]) -> Iterator[Case]:
    """Every case of every numeric field of ``reports``, from the registry."""
    for report in reports:
        seen: set[str] = set()
        for response in reversed(report.responses):
            for field in response.fields:
                if field.attr is None or field.name in seen:
                    continue
                seen.add(field.name)
                conv = field.conversion
                if conv is Conv.ENUM:
                    yield from _enum_cases(report, field)
                elif conv in (Conv.INT, Conv.FLAGS, Conv.BOOL) and field.wire in _INT_WIRES:
                    yield from _int_cases(report, field)
                elif conv is Conv.FLOAT:
                    yield from _float_cases(report, field)
                elif conv is Conv.TIME:
                    yield from _time_cases(report, field)


#: libchrony's ten reports (the C double serves those); the wire route adds clients.
CASES = list(cases(reg.REPORTS))


def expected(case: Case) -> Any:
    """The attribute a reader must give for an accepted ``case.raw``."""
    conv = case.field.conversion
    if conv is Conv.ENUM:
        assert case.field.enum is not None
        return case.field.enum(case.raw)
    if conv is Conv.BOOL:
        return case.raw != 0
    if conv is Conv.TIME:
        sec, nsec = case.raw
        return sec + nsec * 1e-9
    return case.raw


def check(case: Case, read: Any) -> None:
    """Reading ``case`` gives its value, or a ChronyDataError naming the field."""
    if case.ok:
        result = read(case.report.name)
        record = result[0] if isinstance(result, list) else result
        got = getattr(record, case.field.attr or "")
        want = expected(case)
        if case.field.conversion is Conv.FLAGS:
            got = int(got)
        assert got == want, (case.id, got)
    else:
        with pytest.raises(ChronyDataError, match=rf"{case.field.attr}\b|'{case.field.name}'"):
            read(case.report.name)


def test_every_bounded_field_has_cases_on_both_sides():
    accepted = {(c.report.name, c.field.name) for c in CASES if c.ok}
    refused = {(c.report.name, c.field.name) for c in CASES if not c.ok}
    for report in reg.REPORTS:
        for field in report.latest.fields:
            key = (report.name, field.name)
            bounded = (
                field.conversion is Conv.ENUM or field.low is not None or field.high is not None
            )
            if field.attr and bounded:
                assert key in accepted, key
                assert key in refused, key
    # The case: a peer's stratum 200 is no error (chronyc shows it too).
    assert Case(reg.NTPDATA, reg.NTPDATA.field("stratum"), 255, True) in CASES


#: Fields chronyd copies from an NTP peer's packet (chrony 4.3 ntp_core.c
#: receive_packet, sources.c SRC_UpdateStatus): the issue's list, a fact about chrony
#: the registry must agree with, not derive.
PEER_COPIED = {
    "ntpdata": ("stratum", "poll", "precision", "version", "reference ID"),
    "sources": ("stratum", "poll"),
}


@pytest.mark.parametrize(
    ("report", "name"), [(r, n) for r, names in PEER_COPIED.items() for n in names]
)
def test_peer_copied_fields_admit_their_whole_wire_range(report, name):
    field = reg.REPORTS_BY_NAME[report].field(name)
    assert field.low is None, (report, name)
    assert field.high is None, (report, name)
    assert field.bounds == reg.Field("", field.wire, field.content).bounds


def test_peer_copied_enums_admit_every_value_of_the_packets_field():
    # The packet's 2-bit leap field, and the modes receive_packet is handed.
    def values(name: str) -> set[int]:
        enum = reg.NTPDATA.field(name).enum
        assert enum is not None
        return {member.value for member in enum}  # type: ignore[attr-defined]

    assert values("leap status") == set(range(4))
    assert {0, 1, 2, 4} <= values("mode")


# -- route 1: scripted records, python reader and native reader over the C double ----


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_scripted_value_at_the_edge(open_reader, case):
    refclock = case.field.enum is SourceMode and case.raw == SourceMode.REFCLOCK.value
    config = REFCLOCK if refclock else CONFIG
    state = replace_field(config, case.report.name, case.field.name, case.raw)
    check(case, open_reader(config, state))


NON_FINITE = [
    Case(report, field, value, False)
    for report in reg.REPORTS
    for field in report.latest.fields
    if field.attr and field.conversion is Conv.FLOAT
    for value in (math.nan, math.inf, -math.inf)
]


@pytest.mark.parametrize("case", NON_FINITE, ids=lambda c: c.id)
def test_scripted_non_finite_float_is_refused(open_reader, case):
    state = replace_field(CONFIG, case.report.name, case.field.name, case.raw)
    with pytest.raises(ChronyDataError, match=rf"{case.field.attr}\b.*finite|finite"):
        open_reader(CONFIG, state)(case.report.name)


# -- route 2: datagrams from a fake chronyd, python client and real libchrony --------


def _responder(case: Case) -> Any:
    sources = Sources(count=1, names=False)
    honest = default_responder(sources)
    report = case.report

    def respond(request: Request) -> list[bytes]:
        if request.command != report.record_request:
            return honest(request)
        response = report.latest
        values = record_values(report, response, **{case.field.name: case.raw})
        if report is reg.CLIENTS:  # one client in chronyd's access log
            values[0] = "198.51.100.1"
            page = encode_page_reply(
                [values], request.data, command=request.command, sequence=request.sequence
            )
            return [page]
        for position, f in enumerate(response.fields):
            if f.name in ("address", "remote address") and f.name != case.field.name:
                values[position] = sources.address(0)
        return [request.reply(response, values)]

    return respond


#: What the wire carries of a case: chrony's float format rounds, a negative
#: timespec travels as (uint64_t)tv_sec words (cmdmon.c UTI_TimespecHostToNetwork).
WIRE_CASES = [c for c in cases(reg.ALL_REPORTS) if c.field.wire is not Wire.TIMESPEC or c.ok]
#: The python client decodes a timespec's seconds unsigned, where chronyc and
#: libchrony take them as a signed time_t: tv_sec -1 comes out as 2**64 - 1 s.
TIME_BELOW_ZERO = [c for c in CASES if c.field.wire is Wire.TIMESPEC and not c.ok]


def _read_over_wire(directory: Path, backend: str, case: Case) -> Any:
    with (
        fake_chronyd(directory, respond=_responder(case)) as fake,
        ChronyConnection(fake.address, timeout=2.0, attempts=1, backend=backend) as conn,
    ):
        try:
            return conn.report(case.report.name)
        except ChronyDataError as exc:
            return exc


@pytest.mark.parametrize("case", WIRE_CASES, ids=lambda c: c.id)
def test_value_at_the_edge_over_the_wire(short_dir, backend, case):
    assert _wire.decode_float(_wire.encode_float(JUST_BELOW_ZERO)) == JUST_BELOW_ZERO
    outcome = _read_over_wire(short_dir, backend, case)
    check(case, lambda _name: _raise(outcome))


@pytest.mark.parametrize("case", TIME_BELOW_ZERO, ids=lambda c: c.id)
def test_time_before_1970_over_the_wire(short_dir, backend, case):
    outcome = _read_over_wire(short_dir, backend, case)
    check(case, lambda _name: _raise(outcome))


#: Seconds as a chronyd with a 32-bit time_t sends them: candm.h TV_NOHIGHSEC as the
#: high word, which chronyc (util.c UTI_TimespecNetworkToHost) reads as 0.
THIRTY_TWO_BIT = [
    Case(report, field, ((0x7FFFFFFF << 32) | 1_700_000_000, 250_000_000), True)
    for report in reg.REPORTS
    for field in report.latest.fields
    if field.attr and field.conversion is Conv.TIME
]


@pytest.mark.parametrize("case", THIRTY_TWO_BIT, ids=lambda c: c.id)
def test_time_from_a_32_bit_chronyd_over_the_wire(short_dir, backend, case):
    outcome = _read_over_wire(short_dir, backend, case)
    record = outcome[0] if isinstance(outcome, list) else outcome
    assert getattr(record, case.field.attr or "") == 1_700_000_000.25


def _raise(outcome: Any) -> Any:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
