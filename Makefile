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

.DEFAULT_GOAL := help
.PHONY: help install java run test lint typecheck bench bench-generator package clean clean-data

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

test: install java ## run the test suite
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff lint and format check
	$(BIN)/ruff check lib tests jobs bench
	$(BIN)/ruff format --check lib tests jobs bench

typecheck: install ## mypy on the library
	$(BIN)/mypy

bench-generator: install ## time and peak memory of the generator at 1M records
	$(BIN)/python bench/generator_bench.py --scale 1000000

clean-data: ## delete generated landing files and the local lake
	rm -rf landing lake reports

clean: clean-data ## delete the virtual environment and build outputs too
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-quality
bench-quality: install java ## entity-resolution quality vs ground truth (scale 20000), into BENCHMARKS.md
	$(BIN)/python bench/quality.py --scale 20000
