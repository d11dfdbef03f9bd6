# Shared by ci/bench.sh and ci/build_native_real.sh (source it; bash): how pychrony
# gets a real libchrony on a machine that has none packaged (Debian), without any of
# libchrony's code in this repository.
#
#   PYCHRONY2_REQUIREMENT        pychrony 2.0.3 from PyPI: its wheel bundles libchrony
#   copy_tree DEST               a copy of this working tree (tracked and untracked
#                                files, not ignored ones: no built extension)
#   libchrony_from_wheel PYTHON DEST
#                                DEST becomes a pkg-config prefix (DEST/lib/pkgconfig)
#                                for the libchrony shared library bundled in pychrony
#                                2.0.3's wheel (downloaded by PYTHON's pip into
#                                DEST/wheel), declared by pychrony's own header
#                                tests/double/chrony.h
#
# Both run from the repository's top directory.

PYCHRONY2_REQUIREMENT='pychrony==2.0.3'

copy_tree() {
  local dest=$1
  rm -rf "$dest"
  mkdir -p "$dest"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -c | tar -x -C "$dest"
}

libchrony_from_wheel() {
  local python=$1 dest=$2 wheel lib
  mkdir -p "$dest/wheel"
  dest=$(cd "$dest" && pwd)
  wheel=$(find "$dest/wheel" -name 'pychrony-2.0.3-*.whl' | head -n 1)
  if [ -z "$wheel" ]; then
    "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$dest/wheel" "$PYCHRONY2_REQUIREMENT" 2> >(grep -v 'is ignored' >&2)
    wheel=$(find "$dest/wheel" -name 'pychrony-2.0.3-*.whl' | head -n 1)
  fi
  [ -n "$wheel" ] || { echo "libchrony_from_wheel: no $PYCHRONY2_REQUIREMENT wheel" >&2; return 1; }
  rm -rf "$dest/lib" "$dest/include" "$dest/unpacked"
  mkdir -p "$dest/lib/pkgconfig" "$dest/include" "$dest/unpacked"
  "$python" - "$wheel" "$dest/unpacked" <<'PY'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as wheel:
    names = [n for n in wheel.namelist() if n.startswith("pychrony.libs/libchrony")]
    if not names:
        sys.exit(f"{sys.argv[1]} bundles no libchrony")
    wheel.extract(names[0], sys.argv[2])
PY
  lib=$(find "$dest/unpacked/pychrony.libs" -name 'libchrony*.so*' | head -n 1)
  mv "$lib" "$dest/lib/"
  rm -rf "$dest/unpacked"
  ln -s "$(basename "$lib")" "$dest/lib/libchrony.so"
  cp tests/double/chrony.h "$dest/include/chrony.h"
  printf 'prefix=%s\nName: libchrony\nDescription: %s\nVersion: 0.2\nLibs: -L%s -lchrony\nCflags: -I%s\n' \
    "$dest" "libchrony from pychrony 2.0.3's wheel" "$dest/lib" "$dest/include" \
    >"$dest/lib/pkgconfig/libchrony.pc"
}
