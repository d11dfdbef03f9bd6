"""Bad data from chronyd gives a ChronyDataError naming the report and field."""

from __future__ import annotations

import dataclasses

import pytest

from pychrony.exceptions import ChronyDataError
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import SCENARIO_MULTI_SOURCE, ScriptedState, replace_field, scripted_state


def corrupt(report: str, field: str, value: object, index: int = 0) -> ScriptedState:
    """SCENARIO_MULTI_SOURCE with one raw field replaced."""
    return replace_field(SCENARIO_MULTI_SOURCE, report, field, value, index)


@pytest.mark.parametrize(
    ("report", "field", "value", "match"),
    [
        ("tracking", "stratum", 17, "^Invalid stratum: 17 "),
        ("tracking", "leap status", 7, "^Unknown leap_status value 7 .*'leap status'"),
        ("tracking", "current correction", float("nan"), "current correction.*finite"),
        ("tracking", "skew", float("inf"), "skew.*finite"),
        ("tracking", "RMS offset", -1.0, "^Invalid rms_offset: -1.0 .*RMS offset.*out of range"),
        ("tracking", "reference time", (5, 1_000_000_000), "reference time.*nanoseconds"),
        ("sources", "state", 9, "^Unknown state value 9 .*sources field 'state'"),
        ("sources", "mode", 3, "sources.*mode"),
        ("sources", "reachability", 256, "^Invalid reachability: 256 .*reachability.*out of range"),
        ("sourcestats", "skew", -0.5, "sourcestats field 'skew'"),
        ("sourcestats", "standard deviation", float("-inf"), "standard deviation"),
        ("selectdata", "state", ord("?"), "^Unknown state value 63 .*selectdata"),
        ("ntpdata", "mode", 7, "ntpdata.*mode"),
        ("authdata", "key type", 99, "authdata.*key type"),
        ("smoothing", "wander", float("nan"), "smoothing.*wander"),
    ],
)
def test_bad_values_raise_data_error(open_reader, report, field, value, match):
    read = open_reader(SCENARIO_MULTI_SOURCE, corrupt(report, field, value))
    with pytest.raises(ChronyDataError, match=match):
        read(report)


def test_missing_required_field_is_a_data_error(open_reader):
    state = scripted_state(SCENARIO_MULTI_SOURCE)
    tracking = REPORTS_BY_NAME["tracking"]
    # An (imaginary) older layout without 'skew', under a reply code of its own.
    layout = dataclasses.replace(
        tracking.latest,
        code=99,
        fields=tuple(f for f in tracking.latest.fields if f.name != "skew"),
    )
    (record,) = state.records["tracking"]
    values = tuple(
        v for f, v in zip(record.response.fields, record.values, strict=True) if f.name != "skew"
    )
    shrunk = dataclasses.replace(record, response=layout, values=values)
    read = open_reader(
        SCENARIO_MULTI_SOURCE, ScriptedState({**state.records, "tracking": [shrunk]})
    )
    with pytest.raises(ChronyDataError, match="^Field 'skew' not found in chronyd's tracking"):
        read("tracking")


def test_negative_poll_keeps_its_sign(open_reader):
    read = open_reader(SCENARIO_MULTI_SOURCE, corrupt("sources", "poll", -6))
    assert read("sources")[0].poll == -6


def test_zero_extended_int16_is_sign_restored(open_reader):
    # libchrony returns INT16 fields zero-extended: 65530 means -6.
    read = open_reader(SCENARIO_MULTI_SOURCE, corrupt("sources", "poll", 65530))
    assert read("sources")[0].poll == -6
