#!/usr/bin/env bash
# Tests an installed pychrony wheel: cibuildwheel's test-command (pyproject.toml), the
# pure wheel's job in .github/workflows/wheels.yml, and ci/package_check.sh.
#
#   bash ci/wheel_test.sh manylinux|native|pure [PROJECT]
#
# Runs with the `python` on PATH, into which the wheel and its "test", "dashboard" and "exporter"
# extras are installed; PROJECT (default: this checkout) provides tests/.
# 1. ci/wheel_check.py KIND: pychrony comes from the installation, not from PROJECT;
#    a manylinux wheel has its extension, loaded, with the libchrony auditwheel
#    bundled; a pure wheel has none. A missing extension fails here.
# 2. the unit suite (the chronyd labs need chronyd: -m "not integration") as built;
#    for native wheels with PYCHRONY_REQUIRE_EXTENSIONS=1, so test_native_built fails
#    without the extension;
# 3. the same suite with PYCHRONY_NO_EXTENSIONS=1: the wheel's pure-Python backend.
# It runs from an empty temporary directory, so the source tree never shadows the
# installed package.
set -euo pipefail
kind=${1:?usage: wheel_test.sh manylinux|native|pure [PROJECT]}
project=$(cd "${2:-$(dirname "$0")/..}" && pwd)
case $kind in manylinux|native|pure) ;; *) echo "wheel_test: unknown kind $kind" >&2; exit 2;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
unset PYCHRONY_NO_EXTENSIONS PYCHRONY_REQUIRE_EXTENSIONS

python "$project/ci/wheel_check.py" "$kind" "$project"

# The bounded fuzz runs belong to the source tree's CI (ci/test.sh), not to each wheel.
suite=(python -m pytest "$project/tests" --rootdir "$project" -m "not integration and not fuzz" -q)
if [ "$kind" = pure ]; then
  echo "== wheel_test: unit suite, as built (pure Python)"
  "${suite[@]}"
else
  echo "== wheel_test: unit suite, as built (native and python backends)"
  PYCHRONY_REQUIRE_EXTENSIONS=1 "${suite[@]}"
fi
echo "== wheel_test: unit suite, PYCHRONY_NO_EXTENSIONS=1"
PYCHRONY_NO_EXTENSIONS=1 "${suite[@]}"
