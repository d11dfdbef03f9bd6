#!/usr/bin/env bash
# Run the native reader's tests under valgrind (memcheck).
#
#   bash ci/build_native.sh && bash ci/valgrind.sh [pytest args, default: tests/test_native.py]
#
# The command it runs (with the real interpreter, not a pyenv shim):
#   PYTHONMALLOC=malloc valgrind --tool=memcheck --leak-check=full \
#       --show-leak-kinds=definite --track-origins=yes --num-callers=40 \
#       --log-file=build/valgrind/memcheck.%p.log \
#       python -m pytest -m "c_extension and not slow" tests/test_native.py \
#       --deselect tests/test_native.py::test_timeout_resends_then_raises_without_holding_the_gil
#
# PYTHONMALLOC=malloc sends every Python allocation through malloc, so memcheck
# sees them. CPython and glibc's vectorised string functions give known false
# positives ("uninitialised value" in longobject.c, "invalid read" in
# __wmemcmp_avx2), so the run fails only on an error or a definite leak whose
# stack passes through pychrony's code: the extension (_reader_c) or the
# libchrony it is linked to (tests/double/double.c or the real one). The logs
# stay in build/valgrind/. The 100k-call RSS check (marked slow) is left out: it
# takes minutes under valgrind and valgrind distorts RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
# The interpreter itself: valgrind does not follow wrapper scripts' children.
PYTHON=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
command -v valgrind >/dev/null || {
  echo "ci/valgrind.sh: valgrind is not installed (Debian: apt-get install valgrind)" >&2
  exit 1
}
LOGS=build/valgrind
rm -rf "$LOGS" && mkdir -p "$LOGS"
# Valgrind runs one thread at a time, so the GIL test's spinning thread starves
# the waiting one past its deadline: that timing test is left out here.
[ $# -gt 0 ] || set -- tests/test_native.py \
  --deselect tests/test_native.py::test_timeout_resends_then_raises_without_holding_the_gil
status=0
PYTHONMALLOC=malloc valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
  --track-origins=yes --num-callers=40 --log-file="$LOGS/memcheck.%p.log" \
  "$PYTHON" -m pytest -q -p no:cacheprovider -m "c_extension and not slow" "$@" || status=$?

"$PYTHON" - "$LOGS" <<'PY'
import pathlib
import re
import sys

OURS = re.compile(r"_reader_c|libchrony|double\.c|chrony_")
ours, total = [], 0
for log in sorted(pathlib.Path(sys.argv[1]).glob("memcheck.*.log")):
    text = log.read_text(errors="replace")
    # A report is a run of "==PID== " lines between blank "==PID== " lines.
    for block in re.split(r"^==\d+== \n", text, flags=re.M):
        head = block.strip().splitlines()[0] if block.strip() else ""
        is_error = re.search(r"Invalid |uninitialised|Mismatched|Syscall param|overlap", head)
        is_leak = "definitely lost in loss record" in head
        if is_error or is_leak:
            total += 1
            if OURS.search(block):
                ours.append(f"{log.name}:\n{block}")
print(f"valgrind: {total} reports in all, {len(ours)} touching pychrony's code")
for block in ours:
    print(block)
sys.exit(1 if ours else 0)
PY
echo "valgrind: pytest exited with $status; logs in $LOGS"
exit "$status"
