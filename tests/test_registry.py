"""The field registry is consistent, complete and the only home of field names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pychrony import _reader_py, registry
from pychrony.exceptions import ChronyDataError
from pychrony.registry import REPORTS, REPORTS_BY_NAME, Conv, Derived, Report, Wire
from pychrony.testing import SCENARIO_MULTI_SOURCE, MockSession, expected_reports

PACKAGE = Path(registry.__file__).parent

LIBCHRONY_REPORTS = [
    "tracking",
    "sources",
    "sourcestats",
    "selectdata",
    "activity",
    "authdata",
    "ntpdata",
    "serverstats",
    "rtcdata",
    "smoothing",
]


def test_all_ten_reports_in_libchrony_order():
    assert [r.name for r in REPORTS] == LIBCHRONY_REPORTS


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_every_model_attribute_is_filled_from_the_registry(report: Report):
    filled = set(report.attrs())
    fields = {f.name for f in dataclasses.fields(report.model)}
    # Source.name comes from a separate request; everything else from the report.
    assert fields - filled <= {"name"}
    assert filled <= fields


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_layouts_are_well_formed(report: Report):
    codes = [r.code for r in report.responses]
    assert len(set(codes)) == len(codes)
    for response in report.responses:
        names = [f.name for f in response.fields]
        assert len(set(names)) == len(names), names
        for field in response.fields:
            if field.conversion in (Conv.ENUM, Conv.FLAGS):
                assert field.enum is not None, field
            if field.fallback:
                assert report.field(field.fallback)
        assert response.length == registry.RESPONSE_HEADER_LEN + sum(
            f.wire.size for f in response.fields
        )


def test_wire_facts():
    # chrony's candm.h: reply lengths of the layouts chronyd 4.3 sends.
    lengths = {r.name: r.latest.length for r in REPORTS}
    assert lengths["tracking"] == 104
    assert lengths["sources"] == 76
    assert lengths["sourcestats"] == 84
    assert [r.length for r in REPORTS_BY_NAME["serverstats"].responses] == [48, 60, 72, 196]
    assert [r.code for r in REPORTS_BY_NAME["ntpdata"].responses] == [16, 26]
    assert Wire.TIMESPEC.size == 12
    assert Wire.ADDRESS.size == 20


def test_udp_open_reports():
    assert {r.name for r in REPORTS if r.open_over_udp} == {
        "tracking",
        "sources",
        "sourcestats",
        "activity",
        "rtcdata",
        "smoothing",
    }


def _field_names() -> set[str]:
    names = set()
    for report in REPORTS:
        for response in report.responses:
            for field in response.fields:
                names.add(field.name)
    return names


def test_field_names_live_only_in_the_registry():
    """No module but the registry spells a multi-word libchrony field name."""
    distinctive = {n for n in _field_names() if " " in n and not n.startswith("reserved")}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "registry.py":
            continue
        text = path.read_text()
        offenders += [(path.name, n) for n in distinctive if re.search(re.escape(f'"{n}"'), text)]
    assert offenders == []


def _without(report: Report, attr: str) -> Report:
    responses = tuple(
        dataclasses.replace(r, fields=tuple(f for f in r.fields if f.attr != attr))
        for r in report.responses
    )
    return dataclasses.replace(report, responses=responses)


def test_reader_and_mock_fail_without_a_registry_entry(monkeypatch):
    """Remove 'stratum' from the tracking entry: the mock no longer serves it and
    the reader no longer finds it — both rely on the registry alone."""
    crippled = _without(REPORTS_BY_NAME["tracking"], "stratum")
    monkeypatch.setitem(REPORTS_BY_NAME, "tracking", crippled)
    monkeypatch.setattr(_reader_py, "_plans", {})
    # The reader walks the registry: no field fills 'stratum', so the model can't be built.
    session = MockSession(SCENARIO_MULTI_SOURCE)
    with pytest.raises(ChronyDataError, match="stratum"):
        _reader_py.read_report(session, crippled)
    # The mock encodes from the registry: its record no longer has the field.
    session.request_record(crippled, 0)
    assert session.field_index("stratum") == -1
    # And a reader using the full registry over that record reports it missing.
    monkeypatch.setattr(_reader_py, "_plans", {})
    with pytest.raises(ChronyDataError, match="stratum"):
        _reader_py.read_report(session, registry.TRACKING)


def test_derived_attributes_name_existing_fields():
    for report in REPORTS:
        for derived in report.derived:
            assert isinstance(derived, Derived)
            if derived.conv is not Conv.REQUEST_ADDRESS:
                assert report.field(derived.source)


def test_expected_reports_cover_the_registry():
    assert set(expected_reports(SCENARIO_MULTI_SOURCE)) == set(REPORTS_BY_NAME)
