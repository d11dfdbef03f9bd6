#!/usr/bin/env bash
# The test command (README, .ci/run): sets up everything the tests need on a fresh
# Debian machine, then runs lint and the whole suite over both readers.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chronyd >/dev/null || need+=(chrony)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v gcc >/dev/null || need+=(gcc)
# A real Prometheus (2.42, with promtool) for the alert rules and the fleet tests.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then need+=(prometheus); fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "ci/test.sh: please install ${need[*]} (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# -- browser for the dashboard's end-to-end test (tests/e2e): Debian's headless Chromium
browser=()
command -v chromium >/dev/null || browser+=(chromium)
command -v chromedriver >/dev/null || browser+=(chromium-driver)
if [ ${#browser[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser[@]}" >/dev/null
  else
    echo "ci/test.sh: the browser test needs ${browser[*]} (apt-get install ${browser[*]})" >&2
  fi
fi

VENV=${PYCHRONY_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q -U pip setuptools wheel 'Cython>=3.0.8'
python -m pip install -q -e '.[test,dev,dashboard,exporter]'

echo "== native extension, built against the C test double of libchrony (tests/double)"
bash ci/build_native.sh
# test_native_built fails the run if the extension is missing.
export PYCHRONY_REQUIRE_EXTENSIONS=1
# The Prometheus tests (rules, dashboard, fleet) fail instead of skipping without it.
export PYCHRONY_REQUIRE_PROMETHEUS=1

echo "== native extension, linked to a real libchrony (pychrony 2.0.3's wheel), in build/real-libchrony"
bash ci/build_native_real.sh

echo "== lint, types, generated docs"
ruff check .
ruff format --check .
mypy --strict pychrony
python ci/field_reference.py --check
python ci/metrics_reference.py --check
python ci/alerts_reference.py --check

echo "== tests (both readers, real chronyd labs, browser)"
# Tests marked real_libchrony need the other build: they run in the next step.
python -m pytest -m "not real_libchrony and not newer_chrony" "$@"

echo "== tests needing a real libchrony (native rows of the fault matrix, native vs python)"
# From the copy built by ci/build_native_real.sh, whose pychrony python -m pytest
# imports (the current directory comes first on sys.path); a missing or
# double-linked build fails these tests instead of skipping them.
(cd build/real-libchrony/src &&
  PYCHRONY_REQUIRE_REAL_LIBCHRONY=1 python -m pytest -m real_libchrony tests "$@")

echo "== chronyd 4.6 (Debian trixie's chrony package, run through its own loader): golden replies, chronyc's columns, every report and the exporter against a newer release"
chrony46=${PYCHRONY_CHRONY46_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pychrony/chrony-4.6}
[ -x "$chrony46/chronyd" ] || python tests/golden/fetch_chronyd.py 4.6 "$chrony46"
PYCHRONY_CHRONYD=$chrony46/chronyd PYCHRONY_CHRONYC=$chrony46/chronyc PYCHRONY_REQUIRE_NEWER_CHRONY=1 \
  python -m pytest -m "not real_libchrony" tests/golden tests/test_golden.py \
  tests/integration/test_lab_chronyc.py tests/integration/test_lab_reports.py \
  tests/integration/test_exporter_lab.py "$@"
echo "== core suite under every other CPython >= 3.10 installed (claimed but missing ones named)"
PYTHON=python bash ci/other_pythons.sh

bash ci/package_check.sh  # sdist and wheels, each in a fresh venv against a real chronyd

echo "== benchmarks (quick: one round, no timing asserted)"
python -m pytest benchmarks --benchmark-disable --bench-quick -q
