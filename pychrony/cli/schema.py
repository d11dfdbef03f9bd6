"""JSON Schemas of ``pychrony --json``, generated from the registry and the models.

One schema per report, shipped in ``pychrony/cli/schemas/`` (``pychrony schema
REPORT`` prints one). ``python -m pychrony.cli.schema --write`` regenerates them;
tests/test_cli_schema.py checks the shipped files against this generator and
validates real JSON output against them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from enum import Enum, IntFlag
from importlib import resources
from pathlib import Path
from types import NoneType, UnionType
from typing import Any

from ..display import NEVER_ATTRS, field_of
from ..registry import ALL_REPORTS, REPORTS_BY_NAME, Content, Report
from .common import EXIT_OK, UsageError
from .options import Parser

__all__ = ["generate", "main", "shipped"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_UNITS = {
    Content.OFFSET_SECONDS: "seconds",
    Content.MEASURE_SECONDS: "seconds",
    Content.INTERVAL_SECONDS: "seconds",
    Content.INTERVAL_LOG2_SECONDS: "log2 seconds",
    Content.OFFSET_PPM: "ppm",
    Content.MEASURE_PPM: "ppm",
    Content.OFFSET_PPM_PER_SECOND: "ppm per second",
    Content.TIME: "seconds since the epoch",
    Content.LENGTH_BITS: "bits",
    Content.LENGTH_BYTES: "bytes",
}
_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _type_schema(hint: Any) -> tuple[dict[str, Any], bool]:
    """(schema, nullable) of a dataclass attribute's type."""
    args = typing.get_args(hint)
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        (inner,) = [a for a in args if a is not NoneType]
        return _type_schema(inner)[0], NoneType in args
    if isinstance(hint, type) and issubclass(hint, IntFlag):
        names = [m.name for m in hint]
        return {"type": "array", "items": {"enum": names}, "uniqueItems": True}, False
    if isinstance(hint, type) and issubclass(hint, Enum):
        return {"type": "string", "enum": [m.name for m in hint]}, False
    return {"type": _SCALARS[hint]}, False


def _record(report: Report) -> dict[str, Any]:
    model = report.model
    hints = typing.get_type_hints(model)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        schema, nullable = _type_schema(hints[f.name])
        field = field_of(model, f.name)
        if field is not None:
            unit = _UNITS.get(field.content)
            schema["description"] = f"{field.name}" + (f" ({unit})" if unit else "")
            low, high = field.bounds
            if schema.get("type") in ("integer", "number") and low is not None:
                schema["minimum"] = low
            if schema.get("type") in ("integer", "number") and high is not None:
                schema["maximum"] = high
        if f.name in NEVER_ATTRS:
            nullable = True
            schema["description"] += "; null: never sampled"
        if nullable:
            schema["type"] = [schema.get("type", "string"), "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        properties[f.name] = schema
        if field is not None and field.content is Content.TIME:
            properties[f"{f.name}_iso"] = {
                "type": ["string", "null"],
                "description": f"{f.name} as ISO 8601 UTC; null for 0 (never)",
            }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def generate(name: str) -> dict[str, Any]:
    """The JSON Schema of ``pychrony --json NAME``'s output."""
    report = REPORTS_BY_NAME[name]
    record = _record(report)
    if report.multi:
        body: dict[str, Any] = {"type": "array", "items": record}
    elif name == "rtcdata":
        body = {"anyOf": [record, {"type": "null"}]}
    else:
        body = record
    return {
        "$schema": DRAFT,
        "$id": f"urn:pychrony:schema:{name}",
        "title": f"pychrony --json {name}",
        "description": report.description,
        **body,
    }


def text(name: str) -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(generate(name), indent=2) + "\n"


def shipped(name: str) -> str:
    """The shipped schema file of report ``name``."""
    return (resources.files(__package__) / "schemas" / f"{name}.json").read_text("ascii")


def main(args: argparse.Namespace) -> int:
    """``pychrony schema REPORT``: print the shipped schema."""
    p = Parser(prog="pychrony schema", description="Print the JSON Schema of a report's --json.")
    p.add_argument("report", choices=[r.name for r in ALL_REPORTS], metavar="REPORT")
    opts = p.parse_args(args.args)
    sys.stdout.write(shipped(opts.report))
    return EXIT_OK


def _write(check: bool) -> int:
    folder = Path(__file__).with_name("schemas")
    stale = []
    for report in ALL_REPORTS:
        path = folder / f"{report.name}.json"
        wanted = text(report.name)
        if check:
            if not path.exists() or path.read_text("ascii") != wanted:
                stale.append(path.name)
        else:
            path.write_text(wanted, "ascii")
    if stale:
        print(f"stale schemas (python -m pychrony.cli.schema --write): {', '.join(stale)}")
    return 1 if stale else 0


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="Write or check the shipped JSON Schemas.")
    cli.add_argument("--write", action="store_true")
    cli.add_argument("--check", action="store_true")
    parsed = cli.parse_args()
    if not (parsed.write or parsed.check):
        raise SystemExit(str(UsageError("--write or --check")))
    raise SystemExit(_write(check=parsed.check))
