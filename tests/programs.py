"""Programs the tests run that pip does not install (Debian's prometheus and promtool)."""

from __future__ import annotations

import os
import shutil

import pytest

#: Set by ci/test.sh (which installs the package): a missing program fails the test.
REQUIRE_PROMETHEUS = "PYCHRONY_REQUIRE_PROMETHEUS"


def require_program(program: str, package: str = "prometheus") -> str:
    """The path of ``program``; skip when it is missing, fail under ci/test.sh."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} is not installed (apt-get install {package}; ci/test.sh does)"
        if os.environ.get(REQUIRE_PROMETHEUS) == "1":
            pytest.fail(f"{REQUIRE_PROMETHEUS} is set but {message}")
        pytest.skip(message)
    return found
