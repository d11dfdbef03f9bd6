"""Finding chronyd and chronyc, and installing them (Debian, as root) when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import LabError

__all__ = ["CHRONYC_ENV", "CHRONYD_ENV", "ensure_chrony", "find_chronyc", "find_chronyd"]


#: Environment variables naming the programs to run instead of the system's (e.g. the
#: wrappers tests/golden/fetch_chronyd.py writes for another chrony release).
CHRONYD_ENV, CHRONYC_ENV = "PYCHRONY_CHRONYD", "PYCHRONY_CHRONYC"


def _find_program(name: str, env: str, *candidates: str) -> str | None:
    chosen = os.environ.get(env)
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise LabError(f"${env}={chosen} is not an executable")
        return chosen
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        # sbin is often missing from a non-root PATH.
        found = shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    return found


def find_chronyd() -> str | None:
    """Return the path of the ``chronyd`` executable, or None if it is not installed.

    ``$PYCHRONY_CHRONYD``, when set, names it instead.
    """
    return _find_program("chronyd", CHRONYD_ENV, "/usr/sbin/chronyd")


def find_chronyc() -> str | None:
    """Return the path of the ``chronyc`` executable, or None if it is not installed.

    ``$PYCHRONY_CHRONYC``, when set, names it instead.
    """
    return _find_program("chronyc", CHRONYC_ENV, "/usr/bin/chronyc")


def _systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system") and shutil.which("systemctl") is not None


def _apt_install_chrony() -> None:
    """Install the Debian ``chrony`` package without letting it start a service.

    A temporary ``/usr/sbin/policy-rc.d`` answering 101 ("action forbidden") stops
    ``invoke-rc.d`` and ``deb-systemd-invoke`` from starting chronyd during install.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# written by ci/chrony_lab.py during install\nexit 101\n")
        policy.chmod(0o755)
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    try:
        for command in (
            ["apt-get", *lock_wait, "update"],
            ["apt-get", *lock_wait, "install", "-y", "--no-install-recommends", "chrony"],
        ):
            if subprocess.run(command, env=env, check=False).returncode != 0:
                raise LabError(f"'{' '.join(command)}' failed; install chrony by hand")
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if _systemd_running():
        # Belt and braces: never leave a system chronyd enabled or running.
        for unit in ("chrony.service", "chronyd.service"):
            subprocess.run(
                ["systemctl", "disable", "--now", unit],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def ensure_chrony() -> tuple[str, str]:
    """Make sure chronyd and chronyc are available; return their paths.

    If they are missing and we are root on a Debian-like system, install the
    ``chrony`` package with apt-get, keeping its system service stopped and disabled
    (the lab only ever runs its own chronyd processes). A system chronyd that was
    already running before is left alone: the lab does not share any port, socket,
    file or SHM segment with it.

    Raises:
        LabError: chrony is missing and cannot be installed here.
    """
    chronyd, chronyc = find_chronyd(), find_chronyc()
    if chronyd and chronyc:
        return chronyd, chronyc
    if os.geteuid() != 0:
        raise LabError(
            "chronyd/chronyc not found. Install the 'chrony' package "
            "(e.g. 'sudo apt-get install chrony') or run this as root to let "
            "ci/chrony_lab.py install it."
        )
    if shutil.which("apt-get") is None:
        raise LabError("chronyd/chronyc not found and apt-get is unavailable: install chrony")
    _apt_install_chrony()
    chronyd, chronyc = find_chronyd(), find_chronyc()
    if not (chronyd and chronyc):
        raise LabError("apt-get install chrony finished but chronyd/chronyc are still missing")
    return chronyd, chronyc
