"""The fast decoder: one generated function per reply layout, beside the codec.

The Python reader's fast path (:mod:`pychrony._reader_py`) hands a reply's
datagram to :func:`compile_decoder`'s function for its layout, which unpacks it
with the layout's ``struct.Struct`` (:mod:`.wire`) and converts, checks and
stores every dataclass attribute in one pass: chrony's floats by two table
lookups, addresses through the codec's text cache. It is the twin of the
reader's generic path and raises the same errors for the same data.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any

from .._convert import _NAMES as _REFID_NAMES
from .._convert import refid_name
from .._errors import FieldRef, bad_nanoseconds, out_of_range, unknown_value
from ..registry import RESPONSE_HEADER_LEN, Conv, Derived, Field, Report, Response, Wire
from . import wire as _wire
from .wire import Layout

__all__ = ["Decoder", "compile_decoder", "decoder_source"]

#: A compiled fast path: (datagram, session) -> dataclass.
Decoder = Callable[[bytes, Any], Any]

#: Distinct flag values remembered per field (an IntFlag call is slow).
_FLAG_CACHE_SIZE = 256
_MEMBER_DESCRIPTOR = type(Field.__dict__["name"])  # how a slots class stores its fields
#: chrony's float (``_wire.decode_float``) inline, from its raw word ``r`` and its top
#: byte ``t``: two table lookups. The top bytes are unpacked on their own, as small
#: ints that need no allocation (faster than ``r >> 24``); float times int, so that
#: float's multiplication runs first (int's would be tried first, and decline).
_FLOAT_LINES = ("{v} = _scale[{t}] * {r} + _offset[{t}]",)
#: ``tv_sec_high`` of a chronyd with a 32-bit ``time_t`` (``wire.decode_timespec``).
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
        from ..models import SourceMode

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
            body.append(f"    elif {high_s} >= 0x80000000:")  # time_t is signed
            body.append(f"        {high_s} -= 0x100000000")
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
