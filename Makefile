# whatsapp-connect-bridge: every command a person or CI needs. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
VENV := .venv

.PHONY: setup build test demo up lint clean

# Python tools (moto server for DynamoDB/S3, cfn-lint), pinned in scripts/requirements.txt.
setup:
	@./scripts/setup-venv.sh

# The handler binaries and the twin, as the local stack runs them.
build:
	$(CARGO) build --workspace --bins

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml

# Everything CI checks. The integration tests start and stop moto, the twin and the handlers themselves.
test: lint build
	$(CARGO) test --workspace

# Plays a whole conversation offline through the real handler binaries and prints both sides.
demo: setup build
	$(CARGO) run --quiet -p e2e --bin demo

# Starts moto, the twin and both handlers and keeps them running until Ctrl-C.
up: setup build
	$(CARGO) run --quiet -p local-aws --bin local-aws

clean:
	$(CARGO) clean
	rm -rf $(VENV)
