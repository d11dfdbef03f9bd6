#!/usr/bin/env bash
# Instructions per pychrony call, counted by callgrind (repeatable, unlike time).
#
#   PYTHON=benchmarks/.venvs/real/bin/python \
#     bash benchmarks/callgrind_per_call.sh BACKEND OP [CALLS] [SOURCES]
#
# Starts a lab chronyd with SOURCES NTP sources (default 1, no refclock), runs
# benchmarks/profile_hot.py under callgrind with CALLS calls (default 1000) and with
# none, and prints the difference per call. The two profiles stay in $OUT (default
# /tmp/pychrony-callgrind): `callgrind_annotate --inclusive=yes FILE` shows where the
# instructions go. PYTHON must have pychrony installed (for the native backend: built
# against a real libchrony, as ci/bench.sh does in benchmarks/.venvs/real).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: callgrind_per_call.sh native|python OP [CALLS] [SOURCES]}
op=${2:?usage: callgrind_per_call.sh native|python OP [CALLS] [SOURCES]}
calls=${3:-1000}
sources=${4:-1}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/pychrony-callgrind}
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }

export backend op calls sources PYTHON OUT
python3 ci/chrony_lab.py run --sources "$sources" --no-refclock -- bash -c '
  for n in 0 "$calls"; do
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$backend-$op-$sources-$n.out" \
      "$PYTHON" benchmarks/profile_hot.py --backend "$backend" --op "$op" --calls "$n" \
      2>/dev/null
  done' >/dev/null

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }
base=$(total "$OUT/$backend-$op-$sources-0.out")
full=$(total "$OUT/$backend-$op-$sources-$calls.out")
echo "$backend $op ($sources sources): $(( (full - base) / calls )) instructions per call" \
  "(profile: $OUT/$backend-$op-$sources-$calls.out)"
