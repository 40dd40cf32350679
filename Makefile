# Every target installs what it needs (pinned, into .tools/, which git ignores).
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS  := .tools
VENV   := $(TOOLS)/venv
NODE   := $(TOOLS)/node
PYTHON ?= python3

.PHONY: help tools test lint unit

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# --- tools (idempotent: each stamp is rebuilt only when its pin file changes)
$(VENV)/.stamp: infra/requirements.txt
	@mkdir -p $(TOOLS)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	@touch $@

$(NODE)/.stamp: infra/package.json infra/package-lock.json
	@mkdir -p $(NODE)
	cp infra/package.json infra/package-lock.json $(NODE)/
	cd $(NODE) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(VENV)/.stamp $(NODE)/.stamp ## Install the pinned local tools into .tools/

# --- checks
lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: tools lint ## Run every test (unit, handler, store suite on moto and dynalite)
	cargo test --workspace --no-fail-fast
