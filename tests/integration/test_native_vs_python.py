"""Native (libchrony) and Python backends agree on every report of one real chronyd.

Runs only when the extension is linked to a real libchrony (marker
``real_libchrony``): CI builds the main tree's extension against the C test double
(Debian has no libchrony), so ci/test.sh runs these tests once more from
ci/build_native_real.sh's copy, linked to the libchrony bundled in pychrony 2.0.3's
wheel, with PYCHRONY_REQUIRE_REAL_LIBCHRONY=1 (missing build: failure, not a skip).

chronyd's state moves while we read it (sample ages, packet counters), so each
comparison reads native, Python, native again and retries until the two native
reads agree on everything but numbers chronyd computes at reply time (current
correction, dispersion, sample ages, our own command count), which must lie
between the two native reads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pychrony import ChronyConnection
from pychrony.exceptions import ChronyError
from pychrony.registry import REPORTS

pytestmark = [pytest.mark.integration, pytest.mark.c_extension, pytest.mark.real_libchrony]

#: Tries before a moving chronyd is given up on.
TRIES = 20


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
