"""pychrony 2.x's public API, used as a 2.x program uses it (no chronyd needed).

The facts (names, field order and types, factories, fixtures, exceptions,
``Transport``) are those of pychrony 2.0.3's own modules and documentation. The
real-chronyd half, at chronyd's standard socket and port, is
``tests/integration/test_compat_2x_lab.py``.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
import typing

import pytest

import pychrony
import pychrony.models
import pychrony.testing
from pychrony import (
    ChronyConnection,
    ChronyConnectionError,
    ChronyConnectionPool,
    ChronyDataError,
    ChronyError,
    ChronyLibraryError,
    ChronyPermissionError,
    LeapStatus,
    RTCData,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
    TrackingStatus,
    Transport,
)
from pychrony.testing import (
    RTCDATA_DEFAULTS,
    SCENARIO_MULTI_SOURCE,
    SOURCE_DEFAULTS,
    SOURCESTATS_DEFAULTS,
    TRACKING_DEFAULTS,
    make_rtc_data,
    make_source,
    make_source_stats,
    make_tracking,
    patched_chrony_connection,
)

# -- 2.0.3's models: field names, order and types ----------------------------------------

FIELDS_2X: dict[type, list[tuple[str, type]]] = {
    TrackingStatus: [
        ("reference_id", int),
        ("reference_id_name", str),
        ("reference_ip", str),
        ("stratum", int),
        ("leap_status", LeapStatus),
        ("ref_time", float),
        ("offset", float),
        ("last_offset", float),
        ("rms_offset", float),
        ("frequency", float),
        ("residual_freq", float),
        ("skew", float),
        ("root_delay", float),
        ("root_dispersion", float),
        ("update_interval", float),
    ],
    Source: [
        ("address", str),
        ("poll", int),
        ("stratum", int),
        ("state", SourceState),
        ("mode", SourceMode),
        ("flags", int),
        ("reachability", int),
        ("last_sample_ago", int),
        ("orig_latest_meas", float),
        ("latest_meas", float),
        ("latest_meas_err", float),
    ],
    SourceStats: [
        ("reference_id", int),
        ("address", str),
        ("samples", int),
        ("runs", int),
        ("span", int),
        ("std_dev", float),
        ("resid_freq", float),
        ("skew", float),
        ("offset", float),
        ("offset_err", float),
    ],
    RTCData: [
        ("ref_time", float),
        ("samples", int),
        ("runs", int),
        ("span", int),
        ("offset", float),
        ("freq_offset", float),
    ],
}

#: 2.0.3's ``pychrony.__all__``.
ALL_2X = [
    "__version__",
    "ChronyConnection",
    "LeapStatus",
    "SourceState",
    "SourceMode",
    "Transport",
    "TrackingStatus",
    "Source",
    "SourceStats",
    "RTCData",
    "ChronyError",
    "ChronyConnectionError",
    "ChronyPermissionError",
    "ChronyDataError",
    "ChronyLibraryError",
]


def _public_dataclasses() -> list[type]:
    """Every dataclass of pychrony.models and pychrony.testing's public names."""
    found: dict[str, type] = {}
    for module in (pychrony.models, pychrony.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


PUBLIC_DATACLASSES = _public_dataclasses()


def test_the_walk_covers_every_model_and_the_testing_configs():
    names = {cls.__name__ for cls in PUBLIC_DATACLASSES}
    models = {n for n in pychrony.models.__all__ if dataclasses.is_dataclass(getattr(pychrony, n))}
    assert models <= names
    assert len(models) == 11  # the ten reports of 2.x and Client
    assert {"ChronyStateConfig", "SourceConfig", "RTCConfig", "RawRecord"} <= names


@pytest.mark.parametrize("cls", PUBLIC_DATACLASSES, ids=lambda cls: cls.__name__)
def test_field_types_are_type_objects_and_agree_with_get_type_hints(cls):
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        assert not isinstance(field.type, str), f"{cls.__name__}.{field.name}: {field.type!r}"
        assert field.type == hints[field.name], f"{cls.__name__}.{field.name}"
        # A real type: a class, a union of classes or a generic alias of them.
        assert isinstance(field.type, type) or typing.get_origin(field.type) is not None


def test_optional_fields_are_real_unions():
    types = {f.name: f.type for f in dataclasses.fields(Source)}
    assert typing.get_args(types["name"]) == (str, type(None))
    assert types["name"] == (str | None)


@pytest.mark.parametrize("cls", list(FIELDS_2X), ids=lambda cls: cls.__name__)
def test_2x_fields_come_first_in_2x_order_with_2x_types(cls):
    fields = dataclasses.fields(cls)
    expected = FIELDS_2X[cls]
    assert [(f.name, f.type) for f in fields[: len(expected)]] == expected
    for extra in fields[len(expected) :]:  # pychrony 3's additions: only after, defaulted
        assert extra.default is not dataclasses.MISSING, extra.name


def _distinct_values(cls: type) -> dict[str, typing.Any]:
    """A value per 2.x field, different from the factory default where possible."""
    counter = itertools.count(1)
    values: dict[str, typing.Any] = {}
    for name, kind in FIELDS_2X[cls]:
        n = next(counter)
        if issubclass(kind, enum.Enum):
            members = list(kind)
            values[name] = members[n % len(members)]
        elif kind is str:
            values[name] = f"192.0.2.{n}"
        elif kind is float:
            values[name] = n + 0.25
        else:
            values[name] = n
    return values


@pytest.mark.parametrize("cls", list(FIELDS_2X), ids=lambda cls: cls.__name__)
def test_positional_construction_in_2x_order(cls):
    values = _distinct_values(cls)
    obj = cls(*values.values())
    assert {name: getattr(obj, name) for name in values} == values
    first = next(iter(values))
    with pytest.raises(dataclasses.FrozenInstanceError):  # frozen, as in 2.x
        setattr(obj, first, values[first])


@pytest.mark.parametrize(
    ("cls", "factory", "defaults"),
    [
        (TrackingStatus, make_tracking, TRACKING_DEFAULTS),
        (Source, make_source, SOURCE_DEFAULTS),
        (SourceStats, make_source_stats, SOURCESTATS_DEFAULTS),
        (RTCData, make_rtc_data, RTCDATA_DEFAULTS),
    ],
    ids=["make_tracking", "make_source", "make_source_stats", "make_rtc_data"],
)
def test_factories_accept_every_2x_keyword(cls, factory, defaults):
    values = _distinct_values(cls)
    assert set(values) <= set(defaults)  # 2.x's *_DEFAULTS keys are all there
    assert type(factory()) is cls
    for name, value in values.items():  # one keyword at a time
        assert getattr(factory(**{name: value}), name) == value
    made = factory(**values)  # and all at once
    assert {name: getattr(made, name) for name in values} == values
    with pytest.raises(TypeError):
        factory(no_such_field=1)


def test_factory_defaults_are_what_2x_documents():
    assert make_tracking().is_synchronized()
    assert make_tracking(stratum=16, reference_id=0).is_synchronized() is False
    assert make_tracking(leap_status=LeapStatus.INSERT).is_leap_pending()
    assert make_source().is_selected()
    assert make_source().is_reachable()
    assert make_source(reachability=0).is_reachable() is False
    assert make_source(state=SourceState.FALSETICKER).is_selected() is False
    assert make_source_stats().has_sufficient_samples()
    assert make_source_stats(samples=2).has_sufficient_samples() is False
    assert make_source_stats(samples=6).has_sufficient_samples(8) is False
    assert make_rtc_data().is_calibrated()
    assert make_rtc_data(samples=0).is_calibrated() is False


def test_2x_fixtures(tracking_status, source, source_stats, rtc_data):
    assert isinstance(tracking_status, TrackingStatus)
    assert tracking_status.is_synchronized()
    assert isinstance(source, Source)
    assert source.is_selected()
    assert source.is_reachable()
    assert isinstance(source_stats, SourceStats)
    assert source_stats.has_sufficient_samples()
    assert isinstance(rtc_data, RTCData)
    assert rtc_data.is_calibrated()


# -- names, enums, exceptions -------------------------------------------------------------


def test_every_2x_name_is_exported():
    assert set(ALL_2X) <= set(pychrony.__all__)
    for name in ALL_2X:
        assert getattr(pychrony, name) is not None
    for name in ("LeapStatus", "SourceState", "SourceMode", "Transport", "TrackingStatus"):
        assert getattr(pychrony.models, name) is getattr(pychrony, name)
    assert pychrony.models._ref_id_to_name(0x47505300) == "GPS"  # 2.x's helper
    assert pychrony.models._ref_id_to_name(0xC0A80101) == "192.168.1.1"


def test_enums_have_2x_values():
    assert Transport.UNIX_SOCKET.value == "unix_socket"
    assert Transport.COMMAND_PORT.value == "command_port"
    assert [m.name for m in Transport] == ["UNIX_SOCKET", "COMMAND_PORT"]
    assert [(m.name, m.value) for m in LeapStatus] == [
        ("NORMAL", 0),
        ("INSERT", 1),
        ("DELETE", 2),
        ("UNSYNC", 3),
    ]
    assert [m.value for m in SourceState] == [0, 1, 2, 3, 4, 5]
    assert [(m.name, m.value) for m in SourceMode] == [("CLIENT", 0), ("PEER", 1), ("REFCLOCK", 2)]


def test_exceptions_as_2x():
    for cls in (ChronyConnectionError, ChronyPermissionError, ChronyDataError, ChronyLibraryError):
        assert issubclass(cls, ChronyError)
    exc = ChronyConnectionError("Failed to connect to /x", error_code=-2)
    assert (exc.message, exc.error_code) == ("Failed to connect to /x", -2)
    assert str(exc) == "Failed to connect to /x (error code: -2)"
    assert str(ChronyDataError("bad")) == "bad"
    library = ChronyLibraryError("libchrony bindings not available")
    assert library.error_code is None


# -- Transport, .address and .transport (scripted chronyd) --------------------------------


@pytest.mark.parametrize(
    ("given", "address", "transport"),
    [
        (None, "/run/chrony/chronyd.sock", Transport.UNIX_SOCKET),
        ("/custom/path/chronyd.sock", "/custom/path/chronyd.sock", Transport.UNIX_SOCKET),
        ("127.0.0.1", "127.0.0.1", Transport.COMMAND_PORT),
        ("[2001:db8::1]:323", "[2001:db8::1]:323", Transport.COMMAND_PORT),
    ],
)
def test_address_and_transport_while_connected_only(given, address, transport):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        conn = ChronyConnection(given)
        assert (conn.address, conn.transport) == (None, None)  # before __enter__
        with conn:
            assert (conn.address, conn.transport) == (address, transport)
            assert conn.get_tracking().stratum == SCENARIO_MULTI_SOURCE.stratum
        assert (conn.address, conn.transport) == (None, None)  # after close


def test_async_connection_and_pool_tell_address_and_transport():
    import asyncio

    from pychrony import AsyncChronyConnection

    async def read() -> list[tuple[object, object]]:
        conn = AsyncChronyConnection("127.0.0.1:323")
        seen = [(conn.address, conn.transport)]
        async with conn:
            seen.append((conn.address, conn.transport))
            await conn.get_tracking()
        seen.append((conn.address, conn.transport))
        return seen

    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        assert asyncio.run(read()) == [
            (None, None),
            ("127.0.0.1:323", Transport.COMMAND_PORT),
            (None, None),
        ]
        pool = ChronyConnectionPool(size=2)
        assert (pool.address, pool.transport) == (None, None)
        pool.get_sources()
        assert (pool.address, pool.transport) == (
            "/run/chrony/chronyd.sock",
            Transport.UNIX_SOCKET,
        )
        pool.close()
        assert (pool.address, pool.transport) == (None, None)


def test_2x_reuse_of_one_connection_across_with_blocks():
    # 2.x's documented thread-local pattern: one ChronyConnection per thread,
    # entered by a `with` block on every call.
    local = threading.local()

    def get_tracking() -> TrackingStatus:
        if not hasattr(local, "conn"):
            local.conn = ChronyConnection()
        with local.conn as conn:
            return conn.get_tracking()

    with patched_chrony_connection(SCENARIO_MULTI_SOURCE) as sessions:
        first, second = get_tracking(), get_tracking()
        assert first == second
        assert len(sessions) == 2
        assert all(s.closed for s in sessions)
        assert local.conn.address is None


# -- messages 2.x users match on (python backend; native rows in the lab test) -----------


def test_unreachable_socket_message_begins_as_in_2x(tmp_path):
    path = str(tmp_path / "chronyd.sock")
    with pytest.raises(ChronyConnectionError, match=f"^Failed to connect to {path} ") as info:
        ChronyConnection(path, backend="python").get_tracking()
    assert "Is chronyd running" in info.value.message
    assert info.value.error_code == -2  # -ENOENT: error_code stays


def test_init_failure_message_begins_as_in_2x():
    from pychrony.testing import ChronyStateConfig

    config = ChronyStateConfig(error_injection={"chrony_init_session": 1})
    with (
        patched_chrony_connection(config),
        pytest.raises(ChronyConnectionError, match="^Failed to initialize chrony session") as info,
    ):
        ChronyConnection().get_tracking()
    assert info.value.error_code == 1


def test_native_backend_missing_message_names_the_bindings(monkeypatch):
    from pychrony import _backend

    monkeypatch.setattr(_backend, "native", None)
    with pytest.raises(ChronyLibraryError, match="^libchrony bindings not available"):
        ChronyConnection(backend="native")


def test_factory_defaults_keep_2x_values():
    # Tests written for 2.x assert on these defaults.
    tracking = make_tracking()
    assert (tracking.reference_id, tracking.stratum, tracking.offset) == (
        0x7F000001,
        2,
        0.000123456,
    )
    assert (tracking.reference_ip, tracking.update_interval) == ("127.0.0.1", 64.0)
    source = make_source()
    assert (source.address, source.poll, source.reachability) == ("192.168.1.100", 6, 255)
    assert (source.state, source.mode, source.last_sample_ago) == (
        SourceState.SELECTED,
        SourceMode.CLIENT,
        32,
    )
    stats = make_source_stats()
    assert (stats.reference_id, stats.samples, stats.span) == (0xC0A80164, 8, 512)
    rtc = make_rtc_data()
    assert (rtc.samples, rtc.span, rtc.offset, rtc.freq_offset) == (10, 86400, 0.123456, -1.234)
