#!/usr/bin/env bash
# Creates ./.venv with the pinned Python tools (moto server for DynamoDB/S3, cfn-lint).
# Idempotent: does nothing when the venv already matches scripts/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ -x "$venv/bin/moto_server" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt
echo "$want" > "$stamp"
echo "python tools ready in $venv"
