"""Shared fixtures: one test suite over every reader implementation."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from pychrony import _reader_py
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import ChronyStateConfig, MockSession, ScriptedState


class Reader(Protocol):
    """Reads reports of one scripted chronyd state through one implementation."""

    def __call__(self, report: str) -> Any: ...


#: Opens a Reader over ``config`` (``state``, when given, replaces its records).
Opener = Callable[..., Reader]


def _python_reader(config: ChronyStateConfig, state: ScriptedState | None = None) -> Reader:
    session = MockSession(config, state)
    return lambda name: _reader_py.read_report(session, REPORTS_BY_NAME[name])


#: Implementation name -> Opener. The native reader over the C test double
#: registers itself here too.
IMPLEMENTATIONS: dict[str, Opener] = {"python": _python_reader}
_MARKS: dict[str, list[pytest.MarkDecorator]] = {"python": []}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "open_reader" in metafunc.fixturenames:
        metafunc.parametrize(
            "open_reader",
            [pytest.param(IMPLEMENTATIONS[n], id=n, marks=_MARKS[n]) for n in IMPLEMENTATIONS],
        )


# -- the native reader over the C test double (tests/double, ci/build_native.sh) ------


def _native_reader(config: ChronyStateConfig, state: ScriptedState | None = None) -> Reader:
    import os
    import tempfile

    from double_scenario import linked_to_double, write_scenario

    from pychrony import _backend

    native = _backend.native
    if native is None:
        pytest.skip(f"native extension not built: {_backend.NATIVE_UNAVAILABLE_REASON}")
    if not linked_to_double():
        pytest.skip("the native extension is linked to a real libchrony, not the test double")
    fd, path = tempfile.mkstemp(prefix="pychrony-double-", suffix=".txt")
    os.close(fd)
    try:
        write_scenario(Path(path), state or config, config.error_injection)
        session = native.open_session(path, 1.0, 1)  # the double reads the file here
    finally:
        os.unlink(path)
    return lambda name: native.read_report(session, REPORTS_BY_NAME[name])


IMPLEMENTATIONS["native"] = _native_reader
_MARKS["native"] = [pytest.mark.c_extension]


# -- the native backend over a real libchrony (ci/build_native_real.sh) --------------

#: Set by ci/test.sh where the real-libchrony build was made: its tests must run.
REQUIRE_REAL_LIBCHRONY = "PYCHRONY_REQUIRE_REAL_LIBCHRONY"


def require_real_libchrony() -> None:
    """Skip unless the extension is linked to a real libchrony; fail where it must be."""
    from double_scenario import linked_to_double

    from pychrony import _backend
    from pychrony._backend import env_flag

    native = _backend.native
    if native is None:
        reason = f"native extension not built: {_backend.NATIVE_UNAVAILABLE_REASON}"
    elif linked_to_double():
        reason = (
            "the native extension is linked to pychrony's libchrony test double "
            f"({native.libchrony_path()}), not a real libchrony"
        )
    else:
        return
    if env_flag(REQUIRE_REAL_LIBCHRONY):
        pytest.fail(f"{REQUIRE_REAL_LIBCHRONY} is set but {reason}")
    pytest.skip(f"{reason}; ci/test.sh runs this against ci/build_native_real.sh's build")


@pytest.fixture(autouse=True)
def _real_libchrony_gate(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("real_libchrony") is not None:
        require_real_libchrony()


@pytest.fixture(params=["python", pytest.param("native", marks=pytest.mark.real_libchrony)])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend of ChronyConnection; "native" needs the real-libchrony build."""
    return str(request.param)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory for a fake chronyd's socket: the libchrony bundled in pychrony
    2.0.3's wheel fails with EINVAL on server socket paths of 76 bytes or more,
    which pytest's tmp_path gives."""
    path = Path(tempfile.mkdtemp(prefix="pychrony-fake-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
