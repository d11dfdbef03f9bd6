#!/usr/bin/env bash
# Build a second copy of pychrony with its native extension linked to a real libchrony,
# for the integration tests that need one (marker real_libchrony: the fault matrix's
# native rows, tests/integration/test_native_vs_python.py). ci/test.sh runs them there.
#
#   bash ci/build_native_real.sh       # into build/real-libchrony/
#
# Debian packages no libchrony, and none of its code may be in this repository, so the
# library is the one bundled in pychrony 2.0.3's wheel from PyPI (ci/real_libchrony.sh,
# shared with ci/bench.sh):
#   build/real-libchrony/libchrony/  a pkg-config prefix for that library;
#   build/real-libchrony/src/        a copy of this working tree whose
#                                    pychrony/_reader_c is built in place against it.
# Tests run from src/ import that copy (python -m pytest puts the current directory
# first on sys.path); the main tree's extension stays linked to the test double.
#
# Environment: PYTHON (default python3), PYCHRONY_REAL_BUILD (default
# build/real-libchrony).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${PYCHRONY_REAL_BUILD:-build/real-libchrony}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=ci/real_libchrony.sh
. ci/real_libchrony.sh

start=$(date +%s.%N)
libchrony_from_wheel "$PYTHON" "$OUT/libchrony"
copy_tree "$OUT/src"
# The C file Cython makes from the .pyx does not depend on the library linked to:
# reuse the main tree's (ci/build_native.sh) when it is newer than the .pyx.
if [ pychrony/_reader_c.c -nt pychrony/_reader_c.pyx ]; then
  cp -p pychrony/_reader_c.c "$OUT/src/pychrony/_reader_c.c"
fi
cd "$OUT/src"
PKG_CONFIG_PATH="$OUT/libchrony/lib/pkgconfig" PYCHRONY_REQUIRE_EXTENSIONS=1 \
  "$PYTHON" setup.py -q build_ext --inplace
"$PYTHON" - <<'PY'
import sys

sys.path[:0] = [".", "tests"]  # this copy's pychrony and its test helpers
from double_scenario import linked_to_double

from pychrony import _backend

assert _backend.native is not None, _backend.NATIVE_UNAVAILABLE_REASON
assert not linked_to_double(), "linked to the test double, not a real libchrony"
print(f"build_native_real: {_backend.native.__file__} linked to {_backend.native.libchrony_path()}")
PY
end=$(date +%s.%N)
printf 'build_native_real: done in %.1f s\n' "$(echo "$end - $start" | bc)"
