# crm-lakehouse: `make run` and `make test` set up everything on a fresh machine
# (Python 3.11 and Java 17 required). `make help` lists the targets.

PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
ENV     ?= local
SCALE   ?=
SCALES  ?= 100000,1000000,10000000
PYTEST_ARGS ?=
DIST    := dist
ENV_ARCHIVE := $(DIST)/crm-lakehouse-env.tar.gz
ENV_PYTHON ?=
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install java run test lint typecheck bench bench-generator package package-env airflow-venv clean clean-data

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; Python 3.11 is required (set PYTHON=...)" >&2; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "error: $(PYTHON) is not Python 3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned dependencies and the package

java: ## check that Java 17+ is available
	@scripts/check-java.sh

run: install java ## generate the demo dataset and run Bronze -> Silver -> Gold on it
	$(BIN)/lakehouse demo --env $(ENV) $(if $(SCALE),--scale $(SCALE))

test: install java $(AIRFLOW_STAMP) ## run the test suite
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff lint and format check
	$(BIN)/ruff check lib tests jobs bench scripts deploy
	$(BIN)/ruff format --check lib tests jobs bench scripts deploy

typecheck: install ## mypy on the library
	$(BIN)/mypy

bench-generator: install ## time and peak memory of the generator at 1M records
	$(BIN)/python bench/generator_bench.py --scale 1000000

bench: install java ## the nightly pipeline at SCALES (default 100k,1M,10M): day-2 runs, the floor, the Splink peer, into BENCHMARKS.md
	$(BIN)/python bench/pipeline_bench.py --scales $(SCALES)

package: install ## build dist/ for spark-submit: library zip, jobs, conf and contracts zips (seconds)
	$(BIN)/python scripts/package.py code

package-env: $(ENV_ARCHIVE) ## build dist/crm-lakehouse-env.tar.gz, the runtime deps for --archives (minutes)

# Rebuilt only when the pins change. The archive's bin/python links to the interpreter it was built
# with: ENV_PYTHON=/usr/bin/python3.11 for nodes that have it there ('make -B package-env ENV_PYTHON=...').
$(ENV_ARCHIVE): requirements.lock pyproject.toml | $(STAMP)
	$(BIN)/python scripts/package.py env $(if $(ENV_PYTHON),--python $(ENV_PYTHON))

# Airflow lives in its own venv (its pins would fight ours); only the DAG tests use it.
$(AIRFLOW_STAMP): deploy/airflow/requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; Python 3.11 is required (set PYTHON=...)" >&2; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "error: $(PYTHON) is not Python 3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check -r deploy/airflow/requirements.lock
	@touch $(AIRFLOW_STAMP)

airflow-venv: $(AIRFLOW_STAMP) ## create .venv-airflow (pinned Airflow + Spark provider) for the DAG tests

clean-data: ## delete generated landing files and the local lake
	rm -rf landing lake reports

clean: clean-data ## delete the virtual environment and build outputs too
	rm -rf $(VENV) $(AIRFLOW_VENV) $(DIST) build .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-quality
bench-quality: install java ## entity-resolution quality vs ground truth (scale 20000), into BENCHMARKS.md
	$(BIN)/python bench/quality.py --scale 20000
