#!/usr/bin/env bash
# `make up`: the offline stack in the foreground until Ctrl-C. moto on 127.0.0.1:4567, then the twin
# (crates/local-aws) on 127.0.0.1:4566, which creates the bridge's table, bucket, topics and queues in
# that moto and starts the handlers. moto gets a fixed port, not the free one local-aws picks for a
# moto of its own, so that handlers run outside the twin (`cargo lambda watch --env-file local.env`)
# find DynamoDB, S3 and SQS where local.env says. Arguments go to local-aws (docs/local-twin.md).
set -euo pipefail
cd "$(dirname "$0")/.."
twin_port=4566
moto_port=4567
# The workspace build's binary: `cargo run -p local-aws` would resolve features for local-aws alone
# and build the AWS SDK a second time.
local_aws="${CARGO_TARGET_DIR:-target}/debug/local-aws"
if [ ! -x "$local_aws" ]; then
  echo "up: $local_aws is not built; run make build" >&2
  exit 1
fi
for port in "$twin_port" "$moto_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "up: 127.0.0.1:$port is in use (another make up?); stop it first" >&2
    exit 1
  fi
done
./scripts/setup-venv.sh
scripts/moto-server -H 127.0.0.1 -p "$moto_port" &
moto=$!
# A background job of a script ignores Ctrl-C's SIGINT: moto is stopped here, once local-aws is.
trap 'kill "$moto" 2>/dev/null; wait "$moto" 2>/dev/null || true' EXIT
"$local_aws" --port "$twin_port" --moto-url "http://127.0.0.1:$moto_port" "$@"
