"""Generate docs/reference.md from the field registry (``--check``: fail if stale)."""

from __future__ import annotations

import dataclasses
import sys
from enum import Enum, IntFlag
from pathlib import Path

from generated_doc import generate

from pychrony.registry import ALL_REPORTS, Field, Report

OUT = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def _type(field: Field, model: type) -> str:
    if field.enum is not None:
        return field.enum.__name__
    hint = {f.name: f.type for f in dataclasses.fields(model)}.get(field.attr or "", "")
    # A class by its name ("int"); a union as Python spells it ("int | None").
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _constants(field: Field) -> str:
    if field.enum is None:
        return ""
    kind = "flags" if issubclass(field.enum, IntFlag) else "values"
    members: list[Enum] = list(field.enum)
    return f"{kind}: " + ", ".join(f"{m.name}={m.value}" for m in members)


def _bounds(field: Field) -> str:
    low, high = field.bounds
    if field.low is None and field.high is None:
        return ""
    if field.high is None:
        return f"≥ {low:g}"
    return f"{low:g}…{high:g}"


def _report(report: Report) -> list[str]:
    lines = [f"## {report.name}", "", report.description, ""]
    getter = f"`ChronyConnection.{report.getter}()`"
    count = "one record per source" if report.multi else "one record"
    udp = "yes" if report.open_over_udp else "no (Unix socket only, unless `opencommands`)"
    counted = report.count_request is not None
    if report.page is not None:
        count = f"a list, up to {report.page.records} records per reply (paged)"
        udp = "no (Unix socket only)"
    lines += [
        f"- Method: {getter} → `{report.model.__name__}`; {count}.",
        f"- Request code {report.record_request}"
        + (f" (record count: request {report.count_request})" if counted else "")
        + f"; answered over UDP: {udp}.",
        "- Reply layouts: "
        + ", ".join(
            f"code {r.code} ({len(r.fields)} fields, {r.length} bytes, chronyd {r.since}+)"
            for r in report.responses
        )
        + ".",
        *(
            []
            if report.libchrony
            else ["- libchrony lacks it: pychrony's own protocol client reads it on both backends."]
        ),
        "",
        "| libchrony field | wire | content | attribute | type | constants / bounds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    seen: set[str] = set()
    for response in reversed(report.responses):
        for field in response.fields:
            if field.name in seen:
                continue
            seen.add(field.name)
            extra = "; ".join(x for x in (_constants(field), _bounds(field)) if x)
            name = field.name + (f" / {field.alt_name}" if field.alt_name else "")
            attr = f"`{field.attr}`" if field.attr else "—"
            kind = _type(field, report.model) if field.attr else ""
            lines.append(
                f"| {name} | {field.wire.name} | {field.content.name} | {attr} | {kind} | {extra} |"
            )
    for derived in report.derived:
        lines.append(
            f"| (derived from {derived.source}) | | | `{derived.attr}` | {derived.conv.name} | |"
        )
    return [*lines, ""]


def render() -> str:
    """The whole reference as Markdown."""
    lines = [
        "# Field reference",
        "",
        "Generated from `pychrony/registry.py` by `python ci/field_reference.py`; do not edit.",
        "Attributes missing from an older chronyd's reply layout are `None`.",
        "",
    ]
    for report in ALL_REPORTS:
        lines += _report(report)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(generate(render, OUT, "field_reference.py", __doc__))
