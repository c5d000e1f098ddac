# HeliosGrid — every developer and CI entry point. `make help` lists the targets.
SHELL := /bin/bash
PY    := .venv/bin/python
VENV_STAMP := .venv/.helios-installed
NPM_STAMP  := tools/pglite/node_modules/.helios-installed

.DEFAULT_GOAL := help
.PHONY: help setup up down status test test-unit test-integration bench lint typecheck compose-check clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(VENV_STAMP) $(NPM_STAMP) ## create .venv and install Python, npm and system test tools from the repo's files
	@scripts/system-deps.sh

$(VENV_STAMP): pyproject.toml requirements/constraints.txt
	@test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -c requirements/constraints.txt -e '.[dev]'
	@touch $@

$(NPM_STAMP): tools/pglite/package.json tools/pglite/package-lock.json
	cd tools/pglite && npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error
	@touch $@

up: setup ## run the whole local stack (broker, database, simulator, consumer, API + dashboard, Airflow)
	.venv/bin/heliosgrid stack up

down: ## stop everything `make up` started
	@if [ -x .venv/bin/heliosgrid ]; then .venv/bin/heliosgrid stack down; else echo "nothing to stop (no .venv)"; fi

status: ## show each component, lag and freshness
	.venv/bin/heliosgrid status

test: setup ## run the whole test suite (unit + integration against real services)
	@scripts/ensure-postgres.sh
	@$(PY) -m pytest tests $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests collected'; exit 0; fi; exit $$rc

test-unit: setup ## only the fast unit tests
	$(PY) -m pytest tests -m "not integration" $(PYTEST_ARGS)

bench: setup ## run the benchmarks; JSON results in bench/results/
	@scripts/ensure-postgres.sh
	$(PY) -m bench

lint: setup ## ruff + mypy
	.venv/bin/ruff check heliosgrid producer consumer dags tests bench
	.venv/bin/mypy heliosgrid producer consumer dags bench

compose-check: ## validate docker-compose.yml (default and distributed profiles; example secrets when .env is absent)
	@scripts/compose-check.sh

clean: down ## remove the run directory (.helios)
	rm -rf .helios
