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

.PHONY: help install demo test test-slow test-generated ui docs chain-up chain-down bench clean

help:
	@echo "make demo     set everything up, start the local chain, run the daily job for the last 30 days"
	@echo "make test     the test suite (what CI runs first; under 20 min on 2 cores)"
	@echo "make test-slow       the end-to-end stories on anvil (restatements, two chains, blocking checks, 90-day backfill)"
	@echo "make test-generated  the property tests on more seeded generated books"
	@echo "make install  environment only (.venv with uv, anvil from npm, dbt manifest)"
	@echo "make ui       the Dagster UI on the same data directory ($(AIDNAV_DATA_DIR)); PORT=N for another port than 3000"
	@echo "make docs     dbt docs as one static page that opens offline ($(AIDNAV_DATA_DIR)/docs/dbt)"
	@echo "make chain-up    start the local anvil chain (state in $(AIDNAV_DATA_DIR)/chain)"
	@echo "make chain-down  stop it"
	@echo "make bench    time ingest, dbt, checks and publish on a synthetic fleet of 1,000 GPUs"
	@echo "make clean    stop the chain, remove ./data, the install stamp and dbt's target folder"
	@echo "make help     this list"

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
	$(BIN)/pytest -n 2 --dist loadgroup -m "not generated and not slow"

test-slow: install
	$(BIN)/pytest -n 2 --dist loadgroup -m "slow and not generated"

test-generated: install
	$(BIN)/pytest -n 2 --dist loadgroup -m generated tests/generated

ui: install
	$(BIN)/aidnav ui $(if $(PORT),--port $(PORT))

# dbt's docs as one self-contained page (static_index.html opens from file://). The
# catalog (column types) is read from the warehouse when there is one.
DBT_DOCS := $(AIDNAV_DATA_DIR)/docs/dbt
docs: install
	@mkdir -p $(DBT_DOCS)
	@wh="$$($(BIN)/python -c 'from aidnav.config import load_settings as s; print(s().warehouse_path)')" \
	&& cd dbt_project && if [ -f "$$wh" ]; then \
	  AIDNAV_WAREHOUSE="$$wh" ../$(BIN)/dbt docs generate --static \
	    --quiet --profiles-dir . --target-path "$(DBT_DOCS)"; \
	else \
	  AIDNAV_WAREHOUSE="$(DBT_DOCS)/empty.duckdb" ../$(BIN)/dbt docs generate --static \
	    --empty-catalog --quiet --profiles-dir . --target-path "$(DBT_DOCS)"; \
	fi
	@echo "dbt docs:  $(DBT_DOCS)/static_index.html"
	@echo "Data Docs: $(AIDNAV_DATA_DIR)/reports/quality/<run>/index.html (written by each run)"

chain-up: install
	$(BIN)/aidnav chain up

chain-down: install
	$(BIN)/aidnav chain down

bench: install
	$(BIN)/aidnav bench --gpus 1000 --days 1

clean:
	-$(BIN)/aidnav chain down
	rm -rf data .install.stamp dbt_project/target
