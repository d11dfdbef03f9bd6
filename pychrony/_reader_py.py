"""Pure-Python reader: turns any session's records into the frozen dataclasses.

Two paths, built from the field registry once per (report, reply layout):

* the generic one works with any session: a plan of one small converter per
  dataclass attribute, with the field index resolved, reading the record through
  the session's typed getters;
* the fast one serves sessions that hold the reply datagram itself
  (:class:`pychrony._session.ReplySession`, i.e. pychrony's own protocol client):
  one generated function per layout unpacks the datagram with the layout's
  ``struct.Struct`` and converts, checks and stores every attribute in one pass
  (see :func:`compile_decoder`).

Both paths give equal dataclasses and raise the same errors for the same data;
the C reader (``_reader_c.pyx``) is their twin.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._convert import _NAMES as _REFID_NAMES
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
    RESPONSE_HEADER_LEN,
    Conv,
    Derived,
    Field,
    FieldType,
    Report,
    Response,
    Wire,
)

if TYPE_CHECKING:
    from ._wire import Layout

__all__ = ["compile_decoder", "decoder_source", "read_one", "read_records", "read_report"]

_Step = Callable[[Session], Any]
_plans: dict[tuple[str, int], tuple[_Step, ...]] = {}
#: A compiled fast path: (datagram, session) -> dataclass.
Decoder = Callable[[bytes, Any], Any]
#: Fast decoders by report name, then reply code (two lookups of an interned str and
#: an int: faster than one of a tuple); None: that layout takes the generic path.
_decoders: defaultdict[str, dict[int, Decoder | None]] = defaultdict(dict)
_NOT_COMPILED: Any = object()

_SIGNED_BITS = {Wire.INT16: 16, Wire.INT8: 8}


def read_records(session: Session, report: Report) -> list[Any]:
    """Every record of ``report`` as dataclasses, skipping records without data.

    A session that can tell (``list_changed``: CmdmonSession) says whether
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
    if records_of is not None:  # the fast path (CmdmonSession): each record a view
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
    if single_reply is not None:  # the fast path (CmdmonSession)
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


# -- the fast path: one generated function per reply layout --------------------------

#: Distinct flag values remembered per field (an IntFlag call is slow).
_FLAG_CACHE_SIZE = 256
_MEMBER_DESCRIPTOR = type(Field.__dict__["name"])  # how a slots class stores its fields
#: chrony's float (``_wire.decode_float``) inline, from its raw word ``r`` and its top
#: byte ``t``: two table lookups. The top bytes are unpacked on their own, as small
#: ints that need no allocation (faster than ``r >> 24``); float times int, so that
#: float's multiplication runs first (int's would be tried first, and decline).
_FLOAT_LINES = ("{v} = _scale[{t}] * {r} + _offset[{t}]",)
#: ``tv_sec_high`` of a chronyd with a 32-bit ``time_t`` (``_wire.decode_timespec``).
_NO_HIGH_SECONDS = 0x7FFFFFFF
_MISS: Any = object()  # not in the address cache (None is a cached "unspecified")


def compile_decoder(report: Report, code: int) -> Decoder | None:
    """The fast path's function for reply ``code`` of ``report``, or None.

    None means "use the generic path": an unknown layout, a required attribute
    missing from it, or a field whose type differs from the newest layout's (the
    generic path then raises or converts as for any session).
    """
    source = decoder_source(report, code)
    if source is None:
        return None
    text, namespace = source
    exec(compile(text, f"<pychrony decoder {report.name} {code}>", "exec"), namespace)
    return namespace["decode"]  # type: ignore[no-any-return]


def decoder_source(report: Report, code: int) -> tuple[str, dict[str, Any]] | None:
    """The generated source of :func:`compile_decoder` and its namespace (to read it)."""
    from . import _wire

    response = report.response(code)
    layout = _wire.REPORT_LAYOUTS[report.name].get(code)
    if response is None or layout is None:
        return None
    return _Generator(report, response, layout).source()


def _flag(cache: dict[int, Any], flags: Callable[[int], Any], value: int) -> Any:
    member = flags(value)
    if len(cache) < _FLAG_CACHE_SIZE:
        cache[value] = member
    return member


class _Generator:
    """Writes the decoder of one layout: the twin of :func:`_compile` and its steps."""

    def __init__(self, report: Report, response: Response, layout: Layout) -> None:
        from . import _wire
        from .models import SourceMode

        self.report = report
        self.response = response
        self.layout = layout
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_unpack": layout.struct.unpack_from,
            "_scale": _wire.FLOAT_SCALE,
            "_offset": _wire.FLOAT_OFFSET,
            "_texts": _wire.ADDRESS_TEXTS,
            "_text": _wire.address_text,
            "_miss": _MISS,
            "_refid_name": refid_name,
            "_refid_names": _REFID_NAMES,  # refid_name()'s cache, looked up inline
            "_from_bytes": int.from_bytes,
            "_range": out_of_range,
            "_unknown": unknown_value,
            "_nsec": bad_nanoseconds,
            "_flag": _flag,
        }
        self.refclock = SourceMode.REFCLOCK.value
        #: Raw item of the source mode that tells a refclock's slot (sources).
        self.mode = next(
            (self.raw(i) for i, f in enumerate(response.fields) if f.enum is SourceMode), None
        )
        # Raw item names: field i's items start at r{positions[i]}.
        self.items = layout.struct.unpack_from(bytes(layout.length), 0)

    def const(self, value: Any) -> str:
        name = f"_k{len(self.ns)}"
        self.ns[name] = value
        return name

    def raw(self, position: int, item: int = 0) -> str:
        return f"r{self.layout.positions[position] + item}"

    def source(self) -> tuple[str, dict[str, Any]] | None:
        report, response = self.report, self.response
        sources: dict[str, Field | Derived] = {d.attr: d for d in report.derived}
        for older in reversed(report.responses):  # newest layout: widest bounds
            for field in older.fields:
                if field.attr:
                    sources.setdefault(field.attr, field)
        names: dict[str, int] = {}
        for position, field in enumerate(response.fields):
            for name in (field.name, field.alt_name):
                if name:
                    names.setdefault(name, position)
        raw_names = ", ".join(f"r{i}" for i in range(len(self.items)))
        body = self.lines
        body.append(f"    ({raw_names},) = _unpack(datagram, {RESPONSE_HEADER_LEN})")
        tops = self.float_tops()
        if tops:
            body.append(f"    ({', '.join(tops)},) = _tops(datagram, {RESPONSE_HEADER_LEN})")
        # Addresses first and in wire order: the generic path decodes (and rejects
        # an unknown family of) every address before any attribute is converted.
        addresses: dict[int, str] = {}
        for position, field in enumerate(response.fields):
            if field.wire is Wire.ADDRESS:
                addresses[position] = f"a{position}"
                self.address(f"a{position}", self.raw(position), self.raw(position, 1), "    ")
            elif field.wire is Wire.ADDRESS_OR_REFID:
                if self.mode is None:
                    return None
                addresses[position] = f"a{position}"
                body.append(f"    if {self.mode} != {self.refclock}:")
                self.address(f"a{position}", self.raw(position), self.raw(position, 1), "        ")
                body.append("    else:")
                body.append(f"        a{position} = None")
        values = []
        for n, attr in enumerate(dataclasses.fields(report.model)):
            source = sources.get(attr.name)
            value = f"v{n}"
            if source is None:
                if attr.default is dataclasses.MISSING:
                    return None
                body.append(f"    {value} = {self.const(attr.default)}")
            elif isinstance(source, Derived):
                if source.conv is Conv.REQUEST_ADDRESS:
                    body.append(f"    {value} = session.request_address()")
                elif source.conv is Conv.SOURCE_NAME:
                    # _source_name(), inlined
                    body.append('    hook = getattr(session, "source_name", None)')
                    body.append(f"    {value} = hook() if hook is not None else None")
                elif source.conv is Conv.REFID_NAME:
                    refid = report.field(source.source)
                    at = names.get(refid.name, names.get(refid.alt_name or "", -1))
                    if at < 0:
                        return None
                    raw = self.raw(at)
                    body.append(f"    {value} = _refid_names.get({raw})")
                    body.append(f"    if {value} is None:")
                    body.append(f"        {value} = _refid_name({raw})")
                else:
                    return None
            else:
                position = names.get(source.name, -1)
                if position < 0 and source.alt_name:
                    position = names.get(source.alt_name, -1)
                if position < 0:
                    if attr.default is dataclasses.MISSING:
                        return None
                    body.append(f"    {value} = {self.const(attr.default)}")
                elif not self.field(
                    value, source, response.fields[position], position, names, addresses
                ):
                    return None
            values.append(value)
        self.construct(values)
        text = "def decode(datagram, session):\n" + "\n".join(body) + "\n"
        return text, self.ns

    def float_tops(self) -> list[str]:
        """Names of the float fields' top bytes (``t{position}``), and ``_tops``,
        the ``Struct.unpack_from`` that reads them, in the namespace."""
        fmt, names, offset = ">", [], 0
        for position, field in enumerate(self.response.fields):
            if field.wire is Wire.FLOAT:
                fmt += f"{offset}xB" if offset else "B"
                names.append(f"t{position}")
                offset = field.wire.size - 1
            else:
                offset += field.wire.size
        if names:
            self.ns["_tops"] = struct.Struct(fmt).unpack_from
        return names

    def address(self, name: str, raw: str, family: str, indent: str) -> None:
        """Lines decoding an address (``_wire.address_text``, its cache looked up inline)."""
        self.lines.append(f"{indent}{name} = _texts.get(({raw}, {family}), _miss)")
        self.lines.append(f"{indent}if {name} is _miss:")
        self.lines.append(f"{indent}    {name} = _text({raw}, {family})")

    def field(
        self,
        value: str,
        field: Field,
        wire_field: Field,
        position: int,
        names: dict[str, int],
        addresses: dict[int, str],
    ) -> bool:
        """Lines converting one wire field; False when only the generic path can."""
        if wire_field.field_type is not field.field_type:
            return False
        body = self.lines
        conv = field.conversion
        low, high = field.bounds
        where = self.const(FieldRef.of(self.report.name, field.name, field.attr))
        r = self.raw(position)
        if conv is Conv.INT:
            # Struct unpacks signed wire types signed, and every raw value is within
            # its wire type's limits: only narrower bounds need a check.
            natural_low, natural_high = Field("", wire_field.wire, wire_field.content).bounds
            body.append(f"    {value} = {r}")
            self.bounds(value, low, high, natural_low, natural_high, where)
            return True
        if conv is Conv.FLOAT:
            # chrony's float format has no NaN nor infinity (|value| < 2**63):
            # the generic path's finiteness check cannot fail here.
            top = f"t{position}"
            body.extend(f"    {line.format(r=r, v=value, t=top)}" for line in _FLOAT_LINES)
            self.bounds(value, low, high, None, None, where, floating=True)
            return True
        if conv is Conv.TIME:
            high_s, low_s, nsec = r, self.raw(position, 1), self.raw(position, 2)
            body.append(f"    if {nsec} >= 1000000000:")
            body.append(f"        raise _nsec({where}, {nsec})")
            body.append(f"    if {high_s} == {_NO_HIGH_SECONDS}:")
            body.append(f"        {high_s} = 0")
            body.append(f"    {value} = (({high_s} << 32) | {low_s}) + {nsec} * 1e-9")
            self.bounds(value, low, high, None, None, where, floating=True)
            return True
        if conv is Conv.ADDRESS:
            body.append(f"    {value} = {addresses[position]} or ''")
            return True
        if conv is Conv.ADDRESS_OR_NAME:
            assert field.fallback is not None
            if field.fallback == field.alt_name:  # the slot itself holds the reference ID
                refid = f"_from_bytes({r}[:4], 'big') if {self.mode} == {self.refclock} else 0"
                body.append(f"    {value} = {addresses[position]} or _refid_name({refid})")
                return True
            fallback = names.get(field.fallback, -1)
            if fallback < 0:
                return False
            body.append(f"    {value} = {addresses[position]} or _refid_name({self.raw(fallback)})")
            return True
        if conv is Conv.ENUM:
            assert field.enum is not None
            members = self.const({member.value: member for member in field.enum})
            body.append(f"    {value} = {members}.get({r})")
            body.append(f"    if {value} is None:")
            body.append(f"        raise _unknown({where}, {r})")
            return True
        if conv is Conv.FLAGS:
            assert field.enum is not None
            cache = self.const({})
            flags = self.const(field.enum)
            body.append(f"    {value} = {cache}.get({r})")
            body.append(f"    if {value} is None:")
            body.append(f"        {value} = _flag({cache}, {flags}, {r})")
            return True
        if conv is Conv.BOOL:
            body.append(f"    {value} = {r} != 0")
            return True
        return False

    def bounds(
        self,
        value: str,
        low: Any,
        high: Any,
        natural_low: Any,
        natural_high: Any,
        where: str,
        floating: bool = False,
    ) -> None:
        def literal(bound: Any) -> str:
            # A float value compares faster with a float; the same bound where exact.
            if floating and isinstance(bound, int) and float(bound) == bound:
                return repr(float(bound))
            return repr(bound)

        checks = []
        if low is not None and (natural_low is None or low > natural_low):
            checks.append(f"{value} < {literal(low)}")
        if high is not None and (natural_high is None or high < natural_high):
            checks.append(f"{value} > {literal(high)}")
        if checks:
            self.lines.append(f"    if {' or '.join(checks)}:")
            self.lines.append(
                f"        raise _range({where}, {value}, {self.const(low)}, {self.const(high)})"
            )

    def construct(self, values: list[str]) -> None:
        """Return the dataclass: slot by slot where that is what ``__init__`` does."""
        model = self.report.model
        fields = dataclasses.fields(model)
        by_slots = (
            not hasattr(model, "__post_init__")
            and model.__new__ is object.__new__  # type: ignore[comparison-overlap]
            and all(
                type(model.__dict__.get(f.name)) is _MEMBER_DESCRIPTOR and f.init for f in fields
            )
        )
        if not by_slots:
            self.lines.append(f"    return {self.const(model)}({', '.join(values)})")
            return
        twin = _mutable_twin(model)
        if twin is not None:
            # Fill a mutable twin's slots (plain attribute stores, specialised by the
            # interpreter) and make the object the model: __class__ may change
            # between classes with the same slots.
            self.lines.append(f"    obj = {self.const(twin)}()")  # faster than _new(twin)
            for f, value in zip(fields, values, strict=True):
                self.lines.append(f"    obj.{f.name} = {value}")
            self.lines.append(f"    obj.__class__ = {self.const(model)}")
            self.lines.append("    return obj")
            return
        self.ns["_new"] = object.__new__
        self.lines.append(f"    obj = _new({self.const(model)})")
        for f, value in zip(fields, values, strict=True):
            setter = self.const(model.__dict__[f.name].__set__)
            self.lines.append(f"    {setter}(obj, {value})")
        self.lines.append("    return obj")


def _mutable_twin(model: type) -> type | None:
    """A class with ``model``'s slots whose instances can become ``model`` instances
    (``obj.__class__ = model``), or None where the interpreter does not allow it."""
    slots = model.__dict__.get("__slots__")
    if model.__bases__ != (object,) or not isinstance(slots, tuple):
        return None
    twin = type(f"_Mutable{model.__name__}", (), {"__slots__": slots, "__module__": __name__})
    try:
        probe: Any = object.__new__(twin)
        for n, name in enumerate(slots):
            setattr(probe, name, n)
        probe.__class__ = model
    except TypeError:
        return None
    if type(probe) is not model or [getattr(probe, name) for name in slots] != list(
        range(len(slots))
    ):
        return None
    return twin
