"""Scenario files for the C test double of libchrony (tests/double/double.c).

A scenario is ``pychrony.testing.scripted_state(config)`` — the raw records of
every report, built from the field registry — written in the double's line
format, plus the config's error injection and the double's own options
(``never_readable``: no reply ever arrives; ``drop``: the first N requests get
no reply; ``mute``: only the first N requests get one; ``instant``: replies are
always there, no I/O — for benchmarks; ``max_sessions``: at most N sockets of
the scenario open at once; counts are per socket, each loads the file). The
native reader opens the file's path as its chronyd "address".
"""

from __future__ import annotations

from pathlib import Path

from pychrony.registry import REPORTS_BY_NAME, RecordArg, Wire
from pychrony.testing import ChronyStateConfig, RawRecord, ScriptedState, scripted_state
from pychrony.testing.records import RawValue, resolved_field

__all__ = ["FORMAT_VERSION", "linked_to_double", "render", "write_scenario"]

#: The double's scenario format (pychrony_double_version()).
FORMAT_VERSION = 1

_TYPES = {
    Wire.UINT64: "u64",
    Wire.UINT32: "u32",
    Wire.UINT16: "u16",
    Wire.UINT8: "u8",
    Wire.INT16: "i16",
    Wire.INT8: "i8",
    Wire.FLOAT: "float",
    Wire.TIMESPEC: "ts",
    Wire.ADDRESS: "addr",
    Wire.ADDRESS_OR_REFID: "addr",
}


def _value(wire: Wire, value: RawValue) -> str:
    if wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
        return "-" if value is None else f"={value}"
    if wire is Wire.TIMESPEC:
        assert isinstance(value, tuple)
        return f"{value[0]} {value[1]}"
    if wire is Wire.FLOAT:
        assert isinstance(value, (int, float))
        return float(value).hex()  # exact: strtod() reads hex floats, nan and inf
    assert isinstance(value, int), value
    return str(value)


def _record(record: RawRecord | None) -> list[str]:
    if record is None:
        return ["record\t0\t0"]
    fields = record.response.fields
    lines = [f"record\t{record.response.code}\t{len(fields)}"]
    for index in range(len(fields)):
        field = resolved_field(record.response, record.values, index)
        value = _value(field.wire, record.values[index])
        lines.append(f"field\t{field.name}\t{_TYPES[field.wire]}\t{int(field.content)}\t{value}")
    return lines


def render(
    state: ScriptedState,
    errors: dict[str, int] | None = None,
    *,
    never_readable: bool = False,
    drop: int = 0,
    mute: int | None = None,
    instant: bool = False,
    max_sessions: int = 0,
) -> str:
    """The scenario file's text for ``state``."""
    lines = [f"pychrony-double\t{FORMAT_VERSION}"]
    if never_readable:
        lines.append("option\tnever_readable")
    if instant:
        lines.append("option\tinstant")
    if drop:
        lines.append(f"option\tdrop\t{drop}")
    if mute is not None:
        lines.append(f"option\tmute\t{mute}")
    if max_sessions:
        lines.append(f"option\tmax_sessions\t{max_sessions}")
    lines += [f"error\t{key}\t{code}" for key, code in (errors or {}).items()]
    for name, records in state.records.items():
        report = REPORTS_BY_NAME[name]
        flags = [
            flag
            for flag, on in (
                ("multi", report.multi),
                ("address", report.record_arg is RecordArg.ADDRESS),
                ("disabled", name in state.disabled),
            )
            if on
        ]
        lines.append(f"report\t{name}\t{len(records)}\t{','.join(flags) or '-'}")
        for record in records:
            lines += _record(record)
    return "\n".join(lines) + "\n"


def write_scenario(
    path: Path,
    scenario: ChronyStateConfig | ScriptedState,
    errors: dict[str, int] | None = None,
    *,
    never_readable: bool = False,
    drop: int = 0,
    mute: int | None = None,
    instant: bool = False,
    max_sessions: int = 0,
) -> str:
    """Write ``scenario`` (a config, or raw records) to ``path``; returns the path.

    A config brings its own ``error_injection``; ``errors`` adds to it.
    """
    if isinstance(scenario, ChronyStateConfig):
        errors = {**scenario.error_injection, **(errors or {})}
        scenario = scripted_state(scenario)
    path.write_text(
        render(
            scenario,
            errors,
            never_readable=never_readable,
            drop=drop,
            mute=mute,
            instant=instant,
            max_sessions=max_sessions,
        )
    )
    return str(path)


def linked_to_double() -> bool:
    """True when the native extension is built and linked to the test double."""
    import ctypes

    from pychrony import _backend

    if _backend.native is None:
        return False
    path = _backend.native.libchrony_path()
    try:
        return hasattr(ctypes.CDLL(path), "pychrony_double_version")
    except OSError:
        return False
