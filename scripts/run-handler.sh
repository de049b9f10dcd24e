#!/usr/bin/env bash
# One prebuilt handler (`make build`'s debug binary) serving the Lambda runtime API of
# `cargo lambda watch --only-lambda-apis`, with local.env's variables: `cargo lambda invoke` reaches it
# without watch building anything (README, "Running one handler with a fixture").
# Usage: scripts/run-handler.sh <binary, e.g. whatsapp-handler> [<watch's address:port>, default 127.0.0.1:9000]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/run-handler.sh <binary, e.g. whatsapp-handler> [<watch address:port>]}
api=${2:-127.0.0.1:9000}
bin="${CARGO_TARGET_DIR:-target}/debug/$name"
if [ ! -x "$bin" ]; then
  echo "run-handler: $bin is not built; run make build" >&2
  exit 1
fi
set -a
. ./local.env
set +a
# What watch gives the handlers it starts itself. The path after /.rt names the function whose
# invocations this process takes; without it the process would serve watch's default function `_`.
export AWS_LAMBDA_RUNTIME_API="http://$api/.rt/$name" AWS_LAMBDA_FUNCTION_NAME="$name"
export AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096
exec "$bin"
