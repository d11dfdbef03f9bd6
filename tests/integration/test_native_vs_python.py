"""Native (libchrony) and Python backends agree on every report of one real chronyd.

Runs only when the extension is linked to a real libchrony: against the C test
double (what CI builds, as Debian has no libchrony) there is no chronyd to talk
to, and the test says so when it skips. Build against a real libchrony with
``PKG_CONFIG_PATH=<prefix>/lib/pkgconfig PYCHRONY_REQUIRE_EXTENSIONS=1
python setup.py build_ext --inplace``.

chronyd's state moves while we read it (sample ages, packet counters), so each
comparison reads native, Python, native again and retries until the two native
reads agree on everything but numbers chronyd computes at reply time (current
correction, dispersion, sample ages, our own command count), which must lie
between the two native reads.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pychrony import ChronyConnection, _backend
from pychrony.exceptions import ChronyConnectionError, ChronyError
from pychrony.registry import REPORTS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from double_scenario import linked_to_double

pytestmark = [pytest.mark.integration, pytest.mark.c_extension]

#: Tries before a moving chronyd is given up on.
TRIES = 20


@pytest.fixture(scope="module", autouse=True)
def real_libchrony() -> None:
    if _backend.native is None:
        pytest.skip(f"native extension not built: {_backend.NATIVE_UNAVAILABLE_REASON}")
    if linked_to_double():
        pytest.skip(
            "the native extension is linked to pychrony's libchrony test double "
            f"({_backend.native.libchrony_path()}), not a real libchrony"
        )


def _outcome(conn: ChronyConnection, report: str) -> tuple[str, Any]:
    try:
        return "ok", _comparable(report, conn.report(report))
    except ChronyError as exc:
        return "error", type(exc)


def _comparable(report: str, value: Any) -> Any:
    # libchrony has no request for a source's configured name: native gives None.
    if report == "sources":
        return [dataclasses.replace(s, name=None) for s in value]
    return value


def _between(low: Any, mid: Any, high: Any) -> bool:
    return min(low, high) <= mid <= max(low, high)


def _check(before: Any, theirs: Any, after: Any, where: str) -> bool:
    """Assert the Python read agrees with the native reads; False: chronyd moved too much.

    A field equal in both native reads must equal Python's; a number that moved
    between them (computed at reply time) must have Python's value in between,
    else chronyd took a new sample meanwhile and the reads are repeated.
    """
    if isinstance(before, list):
        if not len(before) == len(theirs) == len(after):
            return False
        return all(
            _check(b, t, a, f"{where}[{i}]")
            for i, (b, t, a) in enumerate(zip(before, theirs, after, strict=True))
        )
    for field in dataclasses.fields(before):
        b, t, a = (getattr(x, field.name) for x in (before, theirs, after))
        if b == a:
            assert t == b, f"{where}.{field.name}: native {b!r}, python {t!r}"
        elif not (isinstance(b, (int, float)) and not isinstance(b, bool) and _between(b, t, a)):
            return False  # a new sample in between: read again
    return True


@pytest.mark.parametrize("report", [r.name for r in REPORTS])
def test_backends_agree(address: str, report: str) -> None:
    with (
        ChronyConnection(address, timeout=2.0, backend="native") as native,
        ChronyConnection(address, timeout=2.0, backend="python") as python,
    ):
        assert native.backend == "native"
        for _ in range(TRIES):
            before, theirs, after = (
                _outcome(native, report),
                _outcome(python, report),
                _outcome(native, report),
            )
            if before[0] == theirs[0] == after[0] == "ok":
                if before[1] is None or theirs[1] is None or after[1] is None:
                    assert before[1] is theirs[1] is after[1] is None
                    return
                if _check(before[1], theirs[1], after[1], report):
                    return
            elif before == after:
                assert theirs == before
                return
        pytest.fail(f"chronyd's {report} kept changing over {TRIES} tries")


def test_sources_name_is_only_known_to_python(lab: Any) -> None:
    with (
        ChronyConnection(lab.socket_path, backend="native") as native,
        ChronyConnection(lab.socket_path, backend="python") as python,
    ):
        assert all(s.name is None for s in native.get_sources())
        assert any(s.name for s in python.get_sources())


def test_native_reconnects_after_chronyd_restart(own_lab: Any) -> None:
    conn = ChronyConnection(own_lab.socket_path, timeout=0.5, attempts=2, backend="native")
    assert conn.get_tracking().is_synchronized()
    own_lab.kill_client(signal.SIGKILL)  # the socket file stays, nobody listens
    with pytest.raises(ChronyConnectionError, match="refused"):
        conn.get_tracking()
    own_lab.restart_client()
    assert conn.get_tracking().is_synchronized()  # the same connection reopens its socket
    assert len(conn.get_sources()) == 2
    conn.close()
