"""Pure-Python reader: turns any session's records into the frozen dataclasses.

It walks the field registry once per (report, reply layout) to compile a plan —
one small converter per dataclass attribute, with the field index resolved —
and then runs the plan for every record. The C reader (``_reader_c.pyx``) is
its twin and must give equal results and raise the same errors.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from ._convert import refid_name
from ._session import PrefetchingSession, Session
from .exceptions import ChronyDataError, ChronyDisabledError
from .registry import MAX_RECORDS, Conv, Derived, Field, FieldType, Report, Wire

__all__ = ["read_one", "read_records", "read_report"]

_Step = Callable[[Session], Any]
_plans: dict[tuple[str, int], tuple[_Step, ...]] = {}

_SIGNED_BITS = {Wire.INT16: 16, Wire.INT8: 8}


def read_records(session: Session, report: Report) -> list[Any]:
    """Every record of ``report`` as dataclasses, skipping records without data."""
    count = session.record_count(report)
    if not 0 <= count <= MAX_RECORDS:
        raise ChronyDataError(f"{report.name}: chronyd reported {count} records")
    if count > 1 and isinstance(session, PrefetchingSession):
        session.prefetch(report, count)
    out = []
    for index in range(count):
        if session.request_record(report, index):
            out.append(_build(session, report))
    return out


def read_one(session: Session, report: Report) -> Any:
    """The single record of a one-record report."""
    if not session.request_record(report, 0):
        raise ChronyDataError(f"{report.name}: chronyd sent an empty record")
    return _build(session, report)


def read_report(session: Session, report: Report) -> Any:
    """A report's value as the public API returns it.

    Multi-record reports give a list; ``rtcdata`` gives None when chronyd does
    not track the RTC; other single-record reports give one dataclass.
    """
    if report.multi:
        return read_records(session, report)
    if report.name == "rtcdata":
        try:
            return read_one(session, report)
        except ChronyDisabledError:
            return None
    return read_one(session, report)


def _build(session: Session, report: Report) -> Any:
    key = (report.name, session.response_code())
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _compile(session, report)
    return report.model(*[step(session) for step in plan])


def _compile(session: Session, report: Report) -> tuple[_Step, ...]:
    sources: dict[str, Field | Derived] = {d.attr: d for d in report.derived}
    for response in reversed(report.responses):  # newest layout: widest bounds
        for field in response.fields:
            if field.attr:
                sources.setdefault(field.attr, field)
    steps = []
    for attr in dataclasses.fields(report.model):
        source = sources.get(attr.name)
        if source is None:  # not filled from the wire (e.g. Source.name)
            if attr.default is dataclasses.MISSING:
                raise ChronyDataError(f"{report.name}: the registry fills no {attr.name!r}")
            steps.append(_constant(attr.default))
        elif isinstance(source, Derived):
            steps.append(_derived_step(session, report, source))
        else:
            index = _index(session, source)
            if index < 0:
                if attr.default is dataclasses.MISSING:
                    raise ChronyDataError(
                        f"{report.name}: field {source.name!r} ({attr.name}) is missing "
                        "from chronyd's reply (a chronyd older than pychrony supports?)"
                    )
                steps.append(_constant(attr.default))
            else:
                steps.append(_field_step(session, report, source, index))
    return tuple(steps)


def _index(session: Session, field: Field) -> int:
    index = session.field_index(field.name)
    if index < 0 and field.alt_name:
        index = session.field_index(field.alt_name)
    return index


def _constant(value: Any) -> _Step:
    return lambda _session: value


def _derived_step(session: Session, report: Report, derived: Derived) -> _Step:
    if derived.conv is Conv.REQUEST_ADDRESS:
        return lambda s: s.request_address()
    if derived.conv is Conv.SOURCE_NAME:
        return _source_name
    field = report.field(derived.source)
    index = _index(session, field)
    if index < 0:
        raise ChronyDataError(f"{report.name}: field {field.name!r} is missing from the reply")
    if derived.conv is Conv.REFID_NAME:
        return lambda s: refid_name(s.get_uinteger(index))
    raise AssertionError(f"unsupported derived conversion {derived.conv!r}")


def _source_name(session: Session) -> str | None:
    # Plans are shared by all sessions: ask each one whether it has the hook.
    hook = getattr(session, "source_name", None)
    return hook() if hook is not None else None


def _field_step(session: Session, report: Report, field: Field, index: int) -> _Step:
    conv = field.conversion
    low, high = field.bounds
    where = f"{report.name}: field {field.name!r} ({field.attr})"

    def check(value: Any) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            raise ChronyDataError(f"{where} = {value!r} is out of range [{low}, {high}]")
        return value

    if conv is Conv.INT:
        if field.field_type is FieldType.INTEGER:
            bits = _SIGNED_BITS[field.wire]

            def signed(s: Session) -> int:
                # libchrony returns INT16 fields zero-extended: restore the sign.
                value = s.get_integer(index)
                if value >= 1 << (bits - 1):
                    value -= 1 << bits
                return check(value)  # type: ignore[no-any-return]

            return signed
        return lambda s: check(s.get_uinteger(index))

    if conv is Conv.FLOAT:

        def finite(s: Session) -> float:
            value = s.get_float(index)
            if not math.isfinite(value):
                raise ChronyDataError(f"{where} = {value!r} is not a finite number")
            return check(value)  # type: ignore[no-any-return]

        return finite

    if conv is Conv.TIME:

        def timespec(s: Session) -> float:
            sec, nsec = s.get_timespec(index)
            if not 0 <= nsec < 1_000_000_000:
                raise ChronyDataError(f"{where} has {nsec} nanoseconds")
            return check(sec + nsec * 1e-9)  # type: ignore[no-any-return]

        return timespec

    if conv is Conv.ADDRESS:
        return lambda s: s.get_string(index) or ""

    if conv is Conv.ADDRESS_OR_NAME:
        assert field.fallback is not None
        fallback = (
            index if field.fallback == field.alt_name else session.field_index(field.fallback)
        )
        if fallback < 0:
            raise ChronyDataError(f"{report.name}: field {field.fallback!r} is missing")
        return lambda s: s.get_string(index) or refid_name(s.get_uinteger(fallback))

    if conv is Conv.ENUM:
        enum = field.enum
        assert enum is not None
        members = {member.value: member for member in enum}

        def to_enum(s: Session) -> Any:
            value = s.get_uinteger(index)
            try:
                return members[value]
            except KeyError:
                raise ChronyDataError(
                    f"{where} has unknown value {value} (a chronyd newer than pychrony?)"
                ) from None

        return to_enum

    if conv is Conv.FLAGS:
        flags = field.enum
        assert flags is not None
        return lambda s: flags(s.get_uinteger(index))

    if conv is Conv.BOOL:
        return lambda s: bool(s.get_uinteger(index))

    raise AssertionError(f"unsupported conversion {conv!r} for {where}")
