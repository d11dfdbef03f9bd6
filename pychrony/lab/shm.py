"""The SysV shared-memory segments of the lab's SHM refclock (Linux /proc/sysvipc)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from pathlib import Path

__all__ = ["free_shm_unit", "remove_shm_segments"]

#: SysV shared-memory key of NTP SHM unit 0 ("NTP0"); unit N uses this plus N.
_SHM_KEY_BASE = 0x4E545030


def _shm_segments() -> list[dict[str, int]]:
    """Parse /proc/sysvipc/shm (Linux) into dicts of its integer columns."""
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()
    except OSError:
        return []
    if not lines:
        return []
    header = lines[0].split()
    segments = []
    for line in lines[1:]:
        values = line.split()
        with contextlib.suppress(ValueError):
            segments.append({k: int(v) for k, v in zip(header, values, strict=False)})
    return segments


def free_shm_unit() -> int:
    """Return the lowest NTP SHM unit whose segment does not exist yet."""
    used = {seg["key"] - _SHM_KEY_BASE for seg in _shm_segments()}
    unit = 0
    while unit in used:
        unit += 1
    return unit


def remove_shm_segments(unit: int, client_pids: set[int]) -> None:
    """Remove the idle SHM segment of *unit* if one of *client_pids* created or left it.

    "Left": was the last to detach (two labs started at once may share a unit).
    chronyd detaches from its SHM refclock segment on exit but never removes it.
    """
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    ipc_rmid = 0
    for seg in _shm_segments():
        if (
            seg.get("key") == _SHM_KEY_BASE + unit
            and seg.get("nattch") == 0
            and (seg.get("cpid") in client_pids or seg.get("lpid") in client_pids)
        ):
            libc.shmctl(seg["shmid"], ipc_rmid, None)
