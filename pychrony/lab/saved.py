"""Labs started by another process: their JSON state file, status and stop."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from .chronyc import has_selected, run_chronyc
from .directory import STATE_FILE, LabDir, remove_lab_files
from .errors import LabError
from .install import find_chronyc
from .network import LOOPBACK
from .processes import our_chronyd, terminate, wait_pid_gone
from .shm import remove_shm_segments

__all__ = ["status_lab_dir", "stop_lab_dir"]


def _read_state(base_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(base_dir) / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"no lab state in {path}") from None
    return state


def status_lab_dir(base_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the saved state of the lab in *base_dir* with liveness information added."""
    state = _read_state(base_dir)
    layout = LabDir(Path(state["base_dir"]))
    server_ok = our_chronyd(state.get("server_pid"), layout.conf("server"))
    client_ok = our_chronyd(state.get("client_pid"), layout.conf("client"))
    synced = False
    chronyc = find_chronyc()
    if client_ok and chronyc:
        out = run_chronyc(chronyc, ["-h", state["socket_path"]], ["-c", "sources"], timeout=10)
        synced = out.returncode == 0 and has_selected(out.stdout, LOOPBACK)
    return {
        **state,
        "server_running": server_ok,
        "client_running": client_ok,
        "synchronised": synced,
    }


def stop_lab_dir(base_dir: str | os.PathLike[str], timeout: float = 5.0) -> dict[str, Any]:
    """Stop the lab whose state file is in *base_dir* and remove its files."""
    state = _read_state(base_dir)
    layout = LabDir(Path(state["base_dir"]))
    for role in ("client", "server"):
        pid = state.get(f"{role}_pid")
        if pid and our_chronyd(pid, layout.conf(role)):
            terminate(pid, timeout, functools.partial(wait_pid_gone, pid))
    if state.get("shm_unit") is not None:
        remove_shm_segments(state["shm_unit"], set(state.get("client_pids", [])))
    created = [Path(p) for p in state["created"]]
    remove_lab_files(layout.base, state.get("owns_dir", False), created)
    return state
