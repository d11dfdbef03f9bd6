#!/usr/bin/env bash
# The core suite under every other CPython >= 3.10 installed here (ci/test.sh runs
# the whole suite under its own interpreter; this covers the versions we claim).
#
#   bash ci/other_pythons.sh            # PYTHON: the interpreter that looks (python3)
#
# Interpreters are found by ci/find_pythons.py (PATH, /usr/bin, /usr/local/bin,
# /opt/python*/bin, pyenv), which names every version the classifiers claim that is
# missing. For each, in build/py<X.Y>/: a venv with the test requirements from PyPI,
# a copy of this tree with the extension built against the C double of libchrony
# (ci/build_native.sh), then both readers' core tests and the real chronyd labs
# (python backend; the native backend meets a real chronyd in ci/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/real_libchrony.sh
. ci/real_libchrony.sh  # copy_tree

PYTHON=${PYTHON:-python3}
# A chosen core: the 2.x API and models, both readers over scripted and hostile
# data, the connection/aio/testing layers, and real chronyd labs.
CORE_TESTS=(
  tests/test_compat_2x.py
  tests/test_connection.py
  tests/test_registry.py
  tests/test_reader_validation.py
  tests/test_reader_fast.py
  tests/test_native.py
  tests/test_wire.py
  tests/test_engine.py
  tests/test_aio.py
  tests/test_testing_kit.py
  tests/test_scenarios.py
  tests/test_address.py
  tests/integration/test_lab_reports.py
  tests/integration/test_compat_2x_lab.py
  tests/integration/test_compat_2x_ipv6.py
)

found=$("$PYTHON" ci/find_pythons.py --other)
if [ -z "$found" ]; then
  echo "other_pythons: no other CPython >= 3.10 installed"
  exit 0
fi
echo "other_pythons: $(echo "$found" | cut -f1 | paste -sd' ')"

failed=()
while IFS=$'\t' read -r version python; do
  start=$(date +%s)
  echo "== Python $version ($python): core suite, both readers, real chronyd labs"
  dir=build/py$version
  mkdir -p "$dir"
  venv=$(cd "$dir" && pwd)/venv
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip \
    'setuptools>=77' 'Cython>=3.0.8' 'pytest>=8' 'hypothesis>=6' 2> >(grep -v 'is ignored' >&2)
  copy_tree "$dir/src"
  if (cd "$dir/src" && PYTHON="$venv/bin/python" bash ci/build_native.sh >build.log 2>&1 &&
      PYCHRONY_REQUIRE_EXTENSIONS=1 "$venv/bin/python" -m pytest -q -p pychrony.testing.plugin \
        -m "not real_libchrony" "${CORE_TESTS[@]}"); then
    echo "other_pythons: Python $version passed in $(( $(date +%s) - start )) s"
  else
    [ -f "$dir/src/build.log" ] && tail -n 20 "$dir/src/build.log"
    echo "other_pythons: Python $version FAILED" >&2
    failed+=("$version")
  fi
done <<<"$found"

if [ ${#failed[@]} -gt 0 ]; then
  echo "other_pythons: failed under Python ${failed[*]}" >&2
  exit 1
fi
