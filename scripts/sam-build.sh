#!/usr/bin/env bash
# Proves the deploy artifact on every commit: `sam build` of template.yaml, exactly as `sam deploy` uses
# it (BuildMethod rust-cargolambda: cargo-lambda cross-compiles every function for arm64 with Zig), then
# checks that each function's bootstrap is an arm64 Linux executable.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-sam
./scripts/setup-venv.sh "$venv" scripts/requirements-sam.txt
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
# --no-cached: SAM's cache hashes every file under CodeUri (the workspace, target/ included).
PATH="$PWD/$venv/bin:$PATH" sam build --beta-features --no-cached
for fn in WhatsappHandler ConnectHandler HandoffApi HandoffAuthorizer WebhookSender; do
  bin=.aws-sam/build/$fn/bootstrap
  # ELF magic, then e_machine (bytes 18-19, little-endian) 0xB7 = AArch64.
  header=$(od -An -tx1 -N20 "$bin" | tr -d ' \n')
  if [ "${header:0:8}" != "7f454c46" ] || [ "${header:36:4}" != "b700" ]; then
    echo "$bin is not an arm64 ELF executable (header $header)" >&2
    exit 1
  fi
  echo "$fn: $bin ($(stat -c %s "$bin") bytes, arm64 ELF)"
done
