#!/usr/bin/env bash
# The main job (README): start a throw-away chronyd pair on loopback, read every
# report from it with pychrony (`pychrony lab`), then stop it. Installs what it needs
# into its own virtual environment (a regular, non-editable install, so a test build
# of the extension in the source tree is never picked up).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chronyd >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chrony >/dev/null
fi
VENV=${PYCHRONY_DEMO_VENV:-.venv-demo}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -U pip
"$VENV/bin/python" -m pip install -q .
exec "$VENV/bin/pychrony" lab "$@"
