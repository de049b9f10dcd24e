#!/usr/bin/env bash
# Creates a Python venv with pinned tools. Usage: scripts/setup-venv.sh [VENV REQUIREMENTS]
#   (none)                                      ./.venv: moto server, cfn-lint (scripts/requirements.txt)
#   .venv-sam scripts/requirements-sam.txt      the deploy toolchain: SAM CLI, cargo-lambda
# Idempotent: does nothing when the venv already matches its requirements file.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
req=${2:-scripts/requirements.txt}
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
# The stamp is written only after a complete install, so an interrupted one is redone.
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "python tools ready in $venv"
