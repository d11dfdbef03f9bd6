#!/usr/bin/env bash
# The benchmark command: every suite in benchmarks/, and the peer comparison's table
# written into benchmarks/README.md (and benchmarks/results/latest.json).
#
#   bash ci/bench.sh                      # full run (a few minutes)
#   bash ci/bench.sh --bench-rounds 5     # extra arguments go to pytest
#
# On a fresh Debian machine it installs what it needs (as root: chrony, gcc,
# pkg-config) and makes, under benchmarks/.venvs/ (gitignored):
#   real/       pychrony from that copy with its native extension linked to a real
#               libchrony, plus pytest: it drives every suite, and the native and
#               python contenders run under it;
#   pychrony2/  pychrony 2.0.3 from PyPI (its wheel bundles libchrony): it shares our
#               import name, so it gets its own virtualenv;
#   bin/wire_floor  the wire floor, from benchmarks/wire_floor.c;
# and $PYCHRONY_BENCH_SRC (default ${TMPDIR:-/tmp}/pychrony-bench-src), a copy of this
# working tree (tracked and untracked, not ignored files) that real/ installs and whose
# pychrony is built in place over the C test double (ci/build_native.sh) for the
# conversion-only suite; the suites run from there.
#
# libchrony: `pkg-config libchrony`, also looking in $LIBCHRONY_PREFIX (default
# /opt/libchrony); without one, the libchrony shared library bundled in pychrony
# 2.0.3's wheel, declared by pychrony's own header (tests/double/chrony.h).
#
# Environment: PYTHON (default python3), CC (default cc), PYCHRONY_BENCH_VENVS,
# PYCHRONY_BENCH_SRC, LIBCHRONY_PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VENVS=${PYCHRONY_BENCH_VENVS:-$ROOT/benchmarks/.venvs}
mkdir -p "$VENVS"
VENVS=$(cd "$VENVS" && pwd)
SRC=${PYCHRONY_BENCH_SRC:-${TMPDIR:-/tmp}/pychrony-bench-src}
log() { printf 'bench: %s\n' "$*" >&2; }
# shellcheck source=ci/real_libchrony.sh
. ci/real_libchrony.sh  # copy_tree, libchrony_from_wheel, PYCHRONY2_REQUIREMENT

need=()
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || need+=(chrony)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v "${CC:-cc}" >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ci/bench.sh: please install ${need[*]} (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  log "installing ${need[*]}"
  apt-get update -qq
  # chrony's package would start a system chronyd: keep the service stopped.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

venv() {  # venv DIR PACKAGES...: a virtualenv with these packages
  local dir=$1
  shift
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
}

log "pychrony 2.0.3 into $VENVS/pychrony2"
venv "$VENVS/pychrony2" "$PYCHRONY2_REQUIREMENT"

log "copying the working tree to $SRC"
copy_tree "$SRC"

export PKG_CONFIG_PATH="${LIBCHRONY_PREFIX:-/opt/libchrony}/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if pkg-config --exists libchrony; then
  log "libchrony: $(pkg-config --variable=libdir libchrony) (pkg-config)"
else
  lc=$VENVS/libchrony-from-wheel
  libchrony_from_wheel "$VENVS/pychrony2/bin/python" "$lc"
  log "libchrony: $(readlink -f "$lc/lib/libchrony.so") (bundled in pychrony 2.0.3's wheel)"
  export PKG_CONFIG_PATH="$lc/lib/pkgconfig:$PKG_CONFIG_PATH"
fi

log "pychrony (native over real libchrony) into $VENVS/real"
# The dashboard's and the exporter's suites need those extras' packages (read from
# pyproject.toml), and httpx for their HTTP clients.
mapfile -t extras < <("$PYTHON" -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]; print("\n".join(sorted(set(d["dashboard"] + d["exporter"]))))')
venv "$VENVS/real" 'pytest>=8' 'pytest-benchmark>=4' 'hypothesis>=6' 'setuptools>=69' py-spy \
  'Cython>=3.0.8' wheel 'httpx>=0.27' "${extras[@]}"
PYCHRONY_REQUIRE_EXTENSIONS=1 "$VENVS/real/bin/python" -m pip install -q \
  --disable-pip-version-check --force-reinstall --no-deps "$SRC"

log "pychrony over the test double, in place in $SRC (conversion suite)"
(cd "$SRC" && PKG_CONFIG_PATH='' PYTHON="$VENVS/real/bin/python" bash ci/build_native.sh >/dev/null)

log "wire floor"
mkdir -p "$VENVS/bin"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -o "$VENVS/bin/wire_floor" benchmarks/wire_floor.c

mkdir -p benchmarks/results
cmd="bash ci/bench.sh"
if [ $# -gt 0 ]; then cmd+=$(printf ' %q' "$@"); fi
PYCHRONY_BENCH_COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
export PYCHRONY_BENCH_COMMIT
log "running: $cmd"
# Options as --name=value: pytest reads its arguments for conftest.py files before it
# knows these options, and would take a separate value for a path to look in.
# From the copy, so the in-process suites import its pychrony (built over the test
# double); the contenders' workers import the one installed in real/.
cd "$SRC"
PYCHRONY_BENCH_COMMAND="$cmd" "$VENVS/real/bin/python" -m pytest benchmarks \
  -p no:cacheprovider \
  --native-python="$VENVS/real/bin/python" \
  --pychrony2-python="$VENVS/pychrony2/bin/python" \
  --wire-floor="$VENVS/bin/wire_floor" \
  --bench-json="$ROOT/benchmarks/results/latest.json" \
  --benchmark-json="$ROOT/benchmarks/results/pytest-benchmark.json" \
  --benchmark-columns=median,min,max,rounds \
  --benchmark-sort=name \
  "$@"
cd "$ROOT"
"$VENVS/real/bin/python" benchmarks/peers.py render benchmarks/results/latest.json \
  --readme benchmarks/README.md
log "table written to benchmarks/README.md"
