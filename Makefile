# aidnav: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
VENV := .venv
BIN := $(VENV)/bin
ANVIL := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
export AIDNAV_DATA_DIR ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: help install demo test ui chain-up chain-down bench clean

help:
	@echo "make demo     set everything up, start the local chain, run the daily job for the last 30 days"
	@echo "make test     run the whole test suite"
	@echo "make install  environment only (.venv with uv, anvil from npm, dbt manifest)"
	@echo "make ui       dagster dev on the same data directory ($(AIDNAV_DATA_DIR))"

install: .install.stamp

.install.stamp: pyproject.toml requirements.lock package.json package-lock.json
	@command -v uv >/dev/null 2>&1 || { echo "installing uv"; python3 -m pip install --quiet uv; }
	uv venv --quiet --allow-existing --python $(PYTHON_VERSION) $(VENV)
	uv pip sync --quiet --python $(BIN)/python --compile-bytecode requirements.lock
	uv pip install --quiet --python $(BIN)/python --no-deps --compile-bytecode -e .
	npm ci --no-audit --no-fund --loglevel=error
	@test -x $(ANVIL) || { echo "anvil binary missing at $(ANVIL)"; exit 1; }
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . >/dev/null
	@touch .install.stamp

demo: install
	$(BIN)/aidnav demo

test: install
	$(BIN)/pytest -n 2 --dist loadgroup

ui: install
	$(BIN)/aidnav ui

chain-up: install
	$(BIN)/aidnav chain up

chain-down: install
	$(BIN)/aidnav chain down

bench: install
	$(BIN)/aidnav bench --gpus 1000 --days 1

clean:
	-$(BIN)/aidnav chain down
	rm -rf data .install.stamp dbt_project/target
