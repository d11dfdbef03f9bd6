"""pychrony.testing: factories, fixtures from the pytest11 plugin, configs."""

from __future__ import annotations

import dataclasses

import pytest

import pychrony
from pychrony import LeapStatus, SourceState
from pychrony.testing import (
    SCENARIO_UNSYNC,
    SourceConfig,
    make_activity,
    make_auth_data,
    make_ntp_data,
    make_rtc_data,
    make_select_data,
    make_server_stats,
    make_smoothing,
    make_source,
    make_source_stats,
    make_tracking,
)
from pychrony.testing.records import timespec


def test_factories_apply_overrides():
    assert make_tracking(stratum=16, reference_id=0).is_synchronized() is False
    assert make_tracking(leap_status=LeapStatus.DELETE).is_leap_pending()
    assert make_source(reachability=0).is_reachable() is False
    assert make_source(state=SourceState.FALSETICKER).is_selected() is False
    assert make_source_stats(samples=2).has_sufficient_samples() is False
    assert make_rtc_data(samples=0).is_calibrated() is False
    assert make_select_data().is_selected()
    assert make_ntp_data().remote_port == 123
    assert make_server_stats(ntp_requests=5).ntp_requests == 5
    assert make_activity().online == 1
    assert make_auth_data().nak is False
    assert make_smoothing().is_active() is False


def test_models_are_frozen_with_slots():
    tracking = make_tracking()
    with pytest.raises(dataclasses.FrozenInstanceError):
        tracking.stratum = 3  # type: ignore[misc]
    assert not hasattr(tracking, "__dict__")


def test_never_sampled_source():
    assert make_source(last_sample_ago=pychrony.NEVER_SAMPLED).is_sampled() is False
    assert make_source(last_sample_ago=0).is_sampled()


def test_plugin_fixtures(tracking_status, source, source_stats, rtc_data):
    assert tracking_status.is_synchronized()
    assert source.is_selected()
    assert source_stats.has_sufficient_samples()
    assert rtc_data.is_calibrated()


def test_chrony_scenario_fixture(chrony_scenario):
    chrony_scenario(SCENARIO_UNSYNC)
    assert pychrony.get_tracking().is_synchronized() is False
    (source,) = pychrony.get_sources()
    assert source.is_sampled() is False


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reachability": 256},
        {"samples": -1},
        {"std_dev": -0.1},
        {"latest_meas": float("nan")},
        {"address": "not-an-ip"},
        {"address": "TOOLONG", "mode": pychrony.SourceMode.REFCLOCK},
    ],
)
def test_source_config_validation(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - any field's message
        SourceConfig(**kwargs)


@pytest.mark.parametrize("value", [0.0, 1705320000.123456789, 1.5, 4294967296.999999999, 1e-9])
def test_timespec_round_trip(value):
    sec, nsec = timespec(value)
    assert 0 <= nsec < 1_000_000_000
    assert sec + nsec * 1e-9 == value
