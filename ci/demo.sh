#!/usr/bin/env bash
# The main job (README): start a throw-away chronyd pair on loopback and read every
# report from it with pychrony, then stop it. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chronyd >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chrony >/dev/null
fi
VENV=${PYCHRONY_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q -U pip setuptools wheel 'Cython>=3.0.8'
python -m pip install -q -e .
exec python -m pychrony lab "$@"
