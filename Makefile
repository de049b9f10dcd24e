# whatsapp-connect-bridge: every command a person or CI needs. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
VENV := .venv

.PHONY: setup build sam-build test demo up lambda-invoke-smoke lint soak fuzz fuzz-smoke fuzz-tool bench bench-instructions clean

# Python tools (moto server for DynamoDB/S3, cfn-lint), pinned in scripts/requirements.txt.
setup:
	@./scripts/setup-venv.sh

# The handler binaries and the twin, as the local stack runs them, with the test targets: `cargo test
# --workspace` resolves features with the dev-dependencies, and a build without them would compile the
# AWS SDK a second time with other features.
build:
	$(CARGO) build --workspace --bins --tests

# The deploy artifact, as `sam deploy` builds it: both handlers cross-compiled for arm64 by cargo-lambda
# (SAM CLI and cargo-lambda pinned in scripts/requirements-sam.txt, installed into .venv-sam).
sam-build:
	./scripts/sam-build.sh

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml

# Everything CI checks. The integration tests start and stop moto, the twin and the handlers themselves.
# One test at a time: each end-to-end scenario runs its own moto, twin and handler processes, and two of
# the load scenarios side by side on 2 cores would only measure each other.
test: lint build
	$(CARGO) test --workspace -- --test-threads=1
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory sam-build
	$(MAKE) --no-print-directory lambda-invoke-smoke

# Parsers under libFuzzer (cargo-fuzz; RUSTC_BOOTSTRAP lets the stable toolchain build with sanitizers).
FUZZ_TARGETS := eum_event connect_item sns_envelope
FUZZ_SECONDS ?= 600
CARGO_FUZZ_VERSION := 0.13.1

fuzz-tool:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)

# A bounded run of every target from the committed seeds (CI).
fuzz-smoke: fuzz-tool
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir fuzz $$t fuzz/corpus/$$t fuzz/seeds/$$t -- -max_total_time=20 -rss_limit_mb=2048 || exit 1; \
	done

# Long runs: FUZZ_SECONDS per target (default 10 minutes).
fuzz: fuzz-tool
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir fuzz $$t fuzz/corpus/$$t fuzz/seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; \
	done

# The duplicate/reorder scenario at full scale: 200 customers × 10 messages each way (several minutes).
soak: setup build
	E2E_CUSTOMERS=200 $(CARGO) test -p e2e --test delivery_guarantees -- duplicated --nocapture

# Issue #7 (docs/performance.md): parsing/translation micro-benchmarks (criterion), then cold start,
# per-event overhead, AWS calls, latency, memory and sizes of the release handlers on the local twin;
# prints a table and writes target/bench/results.json. The bench binary is the one the workspace build
# made: `cargo run -p bench` would resolve features for bench alone and build the SDK a second time.
bench: setup
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p bridge --bench parse_translate
	"$${CARGO_TARGET_DIR:-target}/release/bench"

# Instructions per event of each case, the release handlers under callgrind (needs valgrind; a few
# minutes): the repeatable measure for comparing two builds (docs/performance.md).
bench-instructions: setup
	$(CARGO) build --release --workspace --bins
	./scripts/bench-instructions.sh

# Plays a whole conversation offline through the real handler binaries and prints both sides, then a
# bot's handoff to an agent with the events the bot receives.
demo: setup build
	$(CARGO) run --quiet -p e2e --bin demo

# Starts moto, the twin and both handlers and keeps them running until Ctrl-C (twin on 127.0.0.1:4566,
# moto on 127.0.0.1:4567, where local.env points handlers run by `cargo lambda watch`).
up: setup build
	./scripts/up.sh

# The README's "Running one handler with a fixture", its no-rebuild way: `make up`'s stack, `cargo lambda
# watch --only-lambda-apis` with the pinned cargo-lambda, both handlers as `make build` built them
# (scripts/run-handler.sh), `cargo lambda invoke` of each with the sample events, and their effect in the
# twin. Nothing is compiled after `make build`.
lambda-invoke-smoke: setup build
	./scripts/setup-venv.sh .venv-sam scripts/requirements-sam.txt
	python3 scripts/lambda_invoke_smoke.py

clean:
	$(CARGO) clean
	rm -rf $(VENV) .venv-sam .aws-sam
