#!/usr/bin/env bash
# Build pychrony's native extension against the C test double of libchrony.
#
#   bash ci/build_native.sh            # double into build/double, extension in place
#
# 1. compiles tests/double/double.c into build/double/lib/libchrony.so (our own
#    implementation of libchrony's API, serving scripted scenarios) and writes
#    build/double/lib/pkgconfig/libchrony.pc;
# 2. builds pychrony._reader_c in place (pychrony/_reader_c.*.so) with
#    PYCHRONY_REQUIRE_EXTENSIONS=1, found through that pkg-config file; the
#    extension gets an rpath to build/double/lib, so no LD_LIBRARY_PATH is needed.
#
# Environment: PYTHON (default python3), CC (default cc), BUILD_DIR (default
# build/double), CFLAGS_EXTRA (e.g. "-fsanitize=address").
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CC=${CC:-cc}
BUILD_DIR=${BUILD_DIR:-build/double}
mkdir -p "$BUILD_DIR/lib/pkgconfig" "$BUILD_DIR/include"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

start=$(date +%s.%N)
cp tests/double/chrony.h "$BUILD_DIR/include/chrony.h"
# shellcheck disable=SC2086
"$CC" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared ${CFLAGS_EXTRA:-} \
    -I "$BUILD_DIR/include" -o "$BUILD_DIR/lib/libchrony.so" tests/double/double.c -lpthread -lm
cat > "$BUILD_DIR/lib/pkgconfig/libchrony.pc" <<PC
prefix=$BUILD_DIR
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libchrony
Description: pychrony's test double of libchrony (tests/double)
Version: 0.0-double
Libs: -L\${libdir} -lchrony
Cflags: -I\${includedir}
PC
echo "build_native: test double built in $BUILD_DIR"

# The build requirements of pyproject.toml, in this interpreter (no build isolation).
if ! "$PYTHON" - <<'PY'
import sys
try:
    import Cython
    import setuptools
except ImportError:
    sys.exit(1)
major = int(setuptools.__version__.split(".")[0])
sys.exit(0 if major >= 77 and int(Cython.__version__.split(".")[0]) >= 3 else 1)
PY
then
  "$PYTHON" -m pip install -q 'setuptools>=77' 'Cython>=3.0.8'
fi
rm -f pychrony/_reader_c.c pychrony/_reader_c.*.so
PKG_CONFIG_PATH="$BUILD_DIR/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
PYCHRONY_REQUIRE_EXTENSIONS=1 \
    "$PYTHON" setup.py -q build_ext --inplace --force
"$PYTHON" - <<'PY'
from pychrony import _backend

assert _backend.native is not None, _backend.NATIVE_UNAVAILABLE_REASON
print(f"build_native: {_backend.native.__file__} linked to {_backend.native.libchrony_path()}")
PY
end=$(date +%s.%N)
printf 'build_native: done in %.1f s\n' "$(echo "$end - $start" | bc)"
