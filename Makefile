# Every target installs what it needs (pinned, into .tools/, which git ignores).
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS  := .tools
VENV   := $(TOOLS)/venv
DEPLOY := $(TOOLS)/deploy
FUZZ   := $(TOOLS)/schemathesis
NODE   := $(TOOLS)/node
BENCH  := $(TOOLS)/bench
PYTHON ?= python3

.PHONY: help tools browser dev test lint template-lint stress soak bench sam-build screenshot

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# --- tools (idempotent: each stamp is rebuilt only when its pin file changes)
# A Python venv in $(1) with the pins of $(2).
define venv
$(1)/.stamp: $(2)
	@mkdir -p $(TOOLS)
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check -r $(2)
	@touch $$@
endef

# cargo-lambda and moto: what runs the service locally.
$(eval $(call venv,$(VENV),infra/requirements.txt))
# SAM CLI and cfn-lint: only for checking and building the deployment.
$(eval $(call venv,$(DEPLOY),infra/requirements-deploy.txt))
# schemathesis in a venv of its own: its pins clash with moto's and SAM's.
$(eval $(call venv,$(FUZZ),infra/requirements-schemathesis.txt))
# The peer library make bench measures beside ours.
$(eval $(call venv,$(BENCH),infra/requirements-bench.txt))

$(NODE)/.stamp: infra/package.json infra/package-lock.json
	@mkdir -p $(NODE)
	cp infra/package.json infra/package-lock.json $(NODE)/
	cd $(NODE) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(VENV)/.stamp $(DEPLOY)/.stamp $(FUZZ)/.stamp $(NODE)/.stamp $(BENCH)/.stamp browser ## Install the pinned local tools into .tools/, and Chromium for the console's test

browser: ## Headless Chromium and chromedriver from Debian's packages (as root; says which apt-get line to run otherwise)
	@infra/install-browser.sh

# --- run
dev: $(VENV)/.stamp $(NODE)/.stamp ## Run the whole API locally on http://127.0.0.1:3000 (PORT overrides; VERBOSE=1 shows everything) until Ctrl-C
# --bin, not -p: features resolved workspace-wide, as for the functions'
# build (infra/local-stack/src/watch.rs), so neither rebuilds the other's crates.
	@cargo build --bin local-stack
	@exec ./target/debug/local-stack

# --- checks
lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

template-lint: $(DEPLOY)/.stamp ## cfn-lint, sam validate --lint and the SAM transform on template.yaml (offline)
	$(DEPLOY)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(DEPLOY)/bin/sam validate --lint
	AWS_DEFAULT_REGION=us-east-1 $(DEPLOY)/bin/python infra/check_sam_transform.py template.yaml

test: tools lint template-lint ## Run every test: unit, handler, property, store suite (moto + dynalite), gateway, template, OpenAPI + schemathesis, end-to-end, tenant isolation, short stress and soak with faults, the console in Chromium
	cargo test --workspace --no-fail-fast

stress: $(VENV)/.stamp $(NODE)/.stamp ## Stress matrix: 2, 8, 32, 128 clients, then 32 clients under each fault (drop, delay, reset, conflict, restart, kill), then 64 tasks on a semaphore of 3 permits with dropped answers; history checkers
	cargo test -p e2e --test stress -- --clients 2,8,32,128 --cycles 10 --faults all --fault-clients 32 --fault-cycles 10 --permit-clients 64 --permit-cycles 10

SOAK_OPS ?= 1000000
SOAK_MINUTES ?= 120
soak: $(VENV)/.stamp $(NODE)/.stamp ## Soak: SOAK_OPS (1 000 000) random operations of 8 tenants through the local stack, fault phases in turn, every history checked (at most SOAK_MINUTES); the history stays in target/soak/
	SOAK_OPS=$(SOAK_OPS) cargo test -p e2e --test soak -- --max-minutes $(SOAK_MINUTES)

screenshot: $(VENV)/.stamp $(NODE)/.stamp browser ## Run the console's browser test and copy its fresh screenshot of the locks view to docs/console.png (shown in the README)
	cargo test -p e2e --test console
	cp target/console/locks.png docs/console.png

# The functions' package, built on its own (as sam build does: the bench's
# dependencies must not change the functions' features).
FUNCTIONS := -p lock-functions

bench: $(VENV)/.stamp $(NODE)/.stamp $(BENCH)/.stamp ## Measure (release builds): calls at the wire, bootstrap size, cold init, RSS, warm latency vs the raw engine, cycles vs python-dynamodb-lock, the local stack under 1/8/32 clients
	cargo build --release $(FUNCTIONS)
	cargo build --release -p bench
	./target/release/bench

# --- deploy
sam-build: tools ## sam build for x86_64 (what `sam deploy` uploads); arm64 needs a target not installable here
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(DEPLOY)/bin/sam build --parameter-overrides Architecture=x86_64
	@ls -l .aws-sam/build/*/bootstrap
