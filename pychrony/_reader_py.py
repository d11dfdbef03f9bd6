"""Pure-Python reader: turns any session's records into the frozen dataclasses.

Two paths, built from the field registry once per (report, reply layout):

* the generic one works with any session: a plan of one small converter per
  dataclass attribute, with the field index resolved, reading the record through
  the session's typed getters;
* the fast one serves sessions that hold the reply datagram itself (their
  ``current_reply()``: pychrony's own protocol client, ``tests/reply_session.py``):
  one function per layout, generated beside the codec
  (:func:`pychrony.protocol.decoder.compile_decoder`), converts, checks and
  stores every attribute in one pass.

Both paths give equal dataclasses and raise the same errors for the same data;
the C reader (``_reader_c.pyx``) is their twin.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._convert import refid_name
from ._errors import (
    FieldRef,
    bad_nanoseconds,
    missing_field,
    not_finite,
    out_of_range,
    unknown_value,
)
from ._session import Session
from ._source_list import LIST_READS, duplicate_sources, list_changed_error
from .exceptions import ChronyDataError, ChronyDisabledError
from .registry import (
    MAX_RECORDS,
    Conv,
    Derived,
    Field,
    FieldType,
    Report,
    Wire,
)

if TYPE_CHECKING:
    from .protocol.decoder import Decoder

__all__ = ["read_one", "read_records", "read_report"]

_Step = Callable[[Session], Any]
_plans: dict[tuple[str, int], tuple[_Step, ...]] = {}
#: Fast decoders by report name, then reply code (two lookups of an interned str and
#: an int: faster than one of a tuple); None: that layout takes the generic path.
_decoders: defaultdict[str, dict[int, Decoder | None]] = defaultdict(dict)
_NOT_COMPILED: Any = object()

_SIGNED_BITS = {Wire.INT16: 16, Wire.INT8: 8}


def read_records(session: Session, report: Report) -> list[Any]:
    """Every record of ``report`` as dataclasses, skipping records without data.

    A session that can tell (``list_changed``: a ``ChangeTellingSession``) says whether
    chronyd's source list changed under the read; it is then read again, at most
    LIST_READS times (see :mod:`pychrony._source_list`).
    """
    list_changed = getattr(session, "list_changed", None)
    for _ in range(LIST_READS):
        count = session.record_count(report)
        out = _read_counted(session, report, count)
        duplicates = duplicate_sources(report.name, out)
        if list_changed is None:  # a session that cannot tell more (a mock)
            if not duplicates:
                return out
        elif not list_changed(report, count, duplicates):
            return out
    raise list_changed_error(report.name)


def _read_counted(session: Session, report: Report, count: int) -> list[Any]:
    if not 0 <= count <= MAX_RECORDS:
        raise ChronyDataError(
            f"{report.name}: chronyd reported {count} records (at most {MAX_RECORDS} expected)"
        )
    if count > 1:
        # getattr, not isinstance(session, PrefetchingSession): a runtime Protocol
        # check walks the protocol's members on every call (~14 µs in CPython 3.11).
        prefetch = getattr(session, "prefetch", None)
        if prefetch is not None:
            prefetch(report, count)
    records_of = getattr(session, "records_of", None)
    if records_of is not None:  # the fast path (a RawRecordsSession): each record a view
        return _decode_records(records_of(report, count), report)
    out = []
    for index in range(count - 1, -1, -1):  # the last first: pychrony._source_list
        if session.request_record(report, index):
            out.append(_build(session, report))
    out.reverse()
    return out


def _decode_records(records: list[Any], report: Report) -> list[Any]:
    """Dataclasses of records that each offer the session's getters, ``layout`` and
    ``datagram`` (None: a record without data, skipped); decoded the last first,
    as they were read, so a bad record fails as the native reader's does."""
    out = []
    decoders = _decoders[report.name]
    for record in reversed(records):
        if record is None:
            continue
        code = record.layout.code
        decoder = decoders.get(code, _NOT_COMPILED)
        if decoder is _NOT_COMPILED:
            decoder = _decoder(report, code)
        if decoder is not None:
            out.append(decoder(record.datagram, record))
        else:
            out.append(_build_generic(record, report))
    out.reverse()
    return out


def read_one(session: Session, report: Report) -> Any:
    """The single record of a one-record report."""
    single_reply = getattr(session, "single_reply", None)
    if single_reply is not None:  # the fast path (a SingleReplySession)
        reply = single_reply(report)
        if reply is None:
            raise ChronyDataError(f"{report.name}: chronyd sent an empty record")
        layout, datagram = reply
        decoder = _decoders[report.name].get(layout.code, _NOT_COMPILED)
        if decoder is _NOT_COMPILED:
            decoder = _decoder(report, layout.code)
        if decoder is not None:
            return decoder(datagram, session)
        return _build_generic(session, report)  # the reply is the current record
    if not session.request_record(report, 0):
        raise ChronyDataError(f"{report.name}: chronyd sent an empty record")
    return _build(session, report)


def read_report(session: Session, report: Report) -> Any:
    """A report's value as the public API returns it.

    Multi-record reports give a list; ``rtcdata`` gives None when chronyd does
    not track the RTC; other single-record reports give one dataclass.
    """
    if report.count_request is not None:  # report.multi, without a property call
        return read_records(session, report)
    if report.name == "rtcdata":
        try:
            return read_one(session, report)
        except ChronyDisabledError:
            return None
    return read_one(session, report)


def _build(session: Session, report: Report) -> Any:
    current_reply = getattr(session, "current_reply", None)
    if current_reply is not None:  # the fast path (a ReplySession)
        code, datagram = current_reply()
        decoder = _decoders[report.name].get(code, _NOT_COMPILED)
        if decoder is _NOT_COMPILED:
            decoder = _decoder(report, code)
        if decoder is not None:
            return decoder(datagram, session)
    return _build_generic(session, report)


def _decoder(report: Report, code: int) -> Decoder | None:
    """The fast path's decoder of reply ``code`` (None: the generic path), compiled
    on first use (callers look in ``_decoders`` first)."""
    from .protocol.decoder import compile_decoder

    compiled = _decoders[report.name]
    if code not in compiled:
        compiled[code] = compile_decoder(report, code)
    return compiled[code]


def _build_generic(session: Session, report: Report) -> Any:
    """The current record as a dataclass, through the session's typed getters."""
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
                    raise missing_field(report.name, source.name)
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
        raise missing_field(report.name, field.name)
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
    ref = FieldRef.of(report.name, field.name, field.attr)

    def check(value: Any) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            raise out_of_range(ref, value, low, high)
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
                raise not_finite(ref, value)
            return check(value)  # type: ignore[no-any-return]

        return finite

    if conv is Conv.TIME:

        def timespec(s: Session) -> float:
            sec, nsec = s.get_timespec(index)
            if not 0 <= nsec < 1_000_000_000:
                raise bad_nanoseconds(ref, nsec)
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
            raise missing_field(report.name, field.fallback)
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
                raise unknown_value(ref, value) from None

        return to_enum

    if conv is Conv.FLAGS:
        flags = field.enum
        assert flags is not None
        return lambda s: flags(s.get_uinteger(index))

    if conv is Conv.BOOL:
        return lambda s: bool(s.get_uinteger(index))

    raise AssertionError(f"unsupported conversion {conv!r} for {ref.where}")
