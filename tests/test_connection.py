"""ChronyConnection: backend choice, lifecycle, error injection, conveniences."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pychrony
from pychrony import _backend, connection
from pychrony.exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyError,
    ChronyLibraryError,
    ChronyPermissionError,
)
from pychrony.testing import (
    SCENARIO_LEAP_INSERT,
    SCENARIO_MULTI_SOURCE,
    ChronyStateConfig,
    expected_reports,
    patched_chrony_connection,
)


def test_patched_connection_serves_the_scenario():
    with patched_chrony_connection(SCENARIO_LEAP_INSERT) as sessions:
        with pychrony.ChronyConnection() as conn:
            assert conn.backend == "python"
            assert conn.get_tracking().is_leap_pending()
        assert pychrony.get_tracking().is_leap_pending()
    assert len(sessions) == 2
    assert all(s.closed for s in sessions)
    assert connection._session_overrides == []


def test_default_scenario_is_synchronized():
    with patched_chrony_connection():
        assert pychrony.get_tracking().is_synchronized()


def test_nested_patches_restore_in_order():
    with patched_chrony_connection(SCENARIO_LEAP_INSERT):
        with patched_chrony_connection(ChronyStateConfig(stratum=7)):
            assert pychrony.get_tracking().stratum == 7
        assert pychrony.get_tracking().is_leap_pending()
    assert connection._session_overrides == []


def test_every_getter():
    expected = expected_reports(SCENARIO_MULTI_SOURCE)
    getters = {
        "tracking": "get_tracking",
        "sources": "get_sources",
        "sourcestats": "get_source_stats",
        "selectdata": "get_select_data",
        "ntpdata": "get_ntp_data",
        "serverstats": "get_server_stats",
        "activity": "get_activity",
        "authdata": "get_auth_data",
        "rtcdata": "get_rtc_data",
        "smoothing": "get_smoothing",
    }
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        with pychrony.ChronyConnection() as conn:
            for report, getter in getters.items():
                assert getattr(conn, getter)() == expected[report]
        for report, getter in getters.items():
            assert getattr(pychrony, getter)() == expected[report]


def test_lazy_open_and_closed_connection():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE) as sessions:
        conn = pychrony.ChronyConnection()
        assert sessions == []
        conn.get_sources()
        assert len(sessions) == 1
        conn.close()
        assert conn.closed
        with pytest.raises(ChronyConnectionError, match="closed"):
            conn.get_tracking()
        conn.close()  # idempotent


def test_session_is_reused():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE) as sessions:
        with pychrony.ChronyConnection() as conn:
            conn.get_tracking()
            conn.get_sources()
        assert len(sessions) == 1


@pytest.mark.parametrize(
    ("errors", "exception"),
    [
        ({"open": -111}, ChronyConnectionError),
        ({"open": -2}, ChronyConnectionError),
        ({"open": -13}, ChronyPermissionError),
        ({"chrony_open_socket": -13}, ChronyPermissionError),
        ({"init": 1}, ChronyConnectionError),
        ({"request": -1}, ChronyDataError),
        ({"response": -1}, ChronyDataError),
        ({"chrony_process_response": -1}, ChronyDataError),
        ({"response": 9}, ChronyPermissionError),
    ],
)
def test_error_injection(errors, exception):
    config = ChronyStateConfig(error_injection=errors)
    with patched_chrony_connection(config), pytest.raises(exception):
        pychrony.get_tracking()


def test_permission_error_names_the_group():
    config = ChronyStateConfig(error_injection={"open": -13})
    with patched_chrony_connection(config), pytest.raises(ChronyPermissionError, match="chrony"):
        pychrony.get_tracking()


def test_error_injection_scoped_to_one_report():
    config = ChronyStateConfig(error_injection={"request:serverstats": -1})
    with patched_chrony_connection(config), pychrony.ChronyConnection() as conn:
        with pytest.raises(ChronyDataError):
            conn.get_server_stats()
        assert conn.get_tracking().stratum == 2


def test_invalid_error_injection_key():
    with pytest.raises(ValueError, match="error_injection"):
        ChronyStateConfig(error_injection={"explode": 1})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "fast"}, "backend"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"attempts": 0}, "attempts"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ChronyError, match=match):
        pychrony.ChronyConnection(**kwargs)


def test_unknown_report_name():
    with (
        patched_chrony_connection(),
        pychrony.ChronyConnection() as conn,
        pytest.raises(ChronyError, match="Unknown report"),
    ):
        conn.report("manual")


def test_python_backend_is_explicit():
    assert pychrony.ChronyConnection(backend="python").backend == "python"


def test_native_backend_unavailable_raises_library_error(monkeypatch):
    monkeypatch.setattr(_backend, "native", None)
    monkeypatch.setattr(_backend, "NATIVE_UNAVAILABLE_REASON", "not built")
    with pytest.raises(ChronyLibraryError, match="libchrony"):
        pychrony.ChronyConnection(backend="native")
    assert pychrony.ChronyConnection().backend == "python"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("0", False), ("", False), ("false", False), ("off", False)],
)
def test_env_flag(monkeypatch, value, expected):
    monkeypatch.setenv("PYCHRONY_NO_EXTENSIONS", value)
    assert _backend.env_flag("PYCHRONY_NO_EXTENSIONS") is expected


def test_no_extensions_env_forces_python():
    code = (
        "import pychrony, pychrony._backend as b; "
        "print(b.native, pychrony.ChronyConnection().backend)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYCHRONY_NO_EXTENSIONS": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["None", "python"]


def test_clients_from_the_mock_and_which_code_read_it():
    from pychrony.testing import SCENARIO_SERVING_CLIENTS

    with patched_chrony_connection(SCENARIO_SERVING_CLIENTS):
        with pychrony.ChronyConnection() as conn:
            assert conn.get_clients() == SCENARIO_SERVING_CLIENTS.clients
            assert conn.report("clients") == SCENARIO_SERVING_CLIENTS.clients
            assert conn.backend_of("clients") == "python"
            assert conn.backend_of("tracking") == conn.backend
        assert pychrony.get_clients() == SCENARIO_SERVING_CLIENTS.clients
        with pychrony.ChronyConnectionPool() as pool:
            assert pool.get_clients() == SCENARIO_SERVING_CLIENTS.clients
    with pytest.raises(ChronyError, match="Unknown report"):
        pychrony.ChronyConnection(backend="python").backend_of("manual")
