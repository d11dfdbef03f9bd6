"""``$PYCHRONY_CHRONYD``/``$PYCHRONY_CHRONYC`` choose the programs a lab runs."""

from __future__ import annotations

import pytest

from pychrony.lab import LabError, find_chronyc, find_chronyd
from pychrony.lab.install import CHRONYC_ENV, CHRONYD_ENV


@pytest.mark.parametrize(
    ("env", "find"), [(CHRONYD_ENV, find_chronyd), (CHRONYC_ENV, find_chronyc)]
)
def test_the_variable_names_the_program(tmp_path, monkeypatch, env, find):
    program = tmp_path / "wrapper"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv(env, str(program))
    assert find() == str(program)


@pytest.mark.parametrize(
    ("env", "find"), [(CHRONYD_ENV, find_chronyd), (CHRONYC_ENV, find_chronyc)]
)
def test_a_variable_naming_no_executable_is_an_error(tmp_path, monkeypatch, env, find):
    monkeypatch.setenv(env, str(tmp_path / "missing"))
    with pytest.raises(LabError, match=env):
        find()


@pytest.mark.parametrize(
    ("env", "find"), [(CHRONYD_ENV, find_chronyd), (CHRONYC_ENV, find_chronyc)]
)
def test_unset_or_empty_finds_the_systems(monkeypatch, env, find):
    monkeypatch.delenv(env, raising=False)
    system = find()
    monkeypatch.setenv(env, "")
    assert find() == system
