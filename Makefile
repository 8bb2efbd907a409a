# One obvious command per habit. Each target installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SAM_VENV := .venv-sam
export AWS_DEFAULT_REGION ?= ap-southeast-3
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run test lint format typecheck template-lint unit validate build clean bench security load

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv and install kanal with its development tools

run: $(STAMP) ## Start the whole system locally (AWS emulated in-process, API on 127.0.0.1:3000)
	$(BIN)/kanal dev

test: lint typecheck template-lint unit ## Lint, type-check, lint the template and run the tests with coverage

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy (strict, pydantic plugin)
	$(BIN)/mypy

template-lint: $(STAMP) ## cfn-lint on template.yaml
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP) ## pytest with branch coverage (at least 90 %)
	$(BIN)/pytest --cov --cov-report=term

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli

validate: $(SAM_VENV)/bin/sam ## sam validate --lint (SAM CLI in its own venv: it pins its own boto3 and pydantic)
	$(SAM_VENV)/bin/sam validate --lint

build: $(SAM_VENV)/bin/sam ## sam build for arm64 (needs python3.13 on PATH; pyenv provides it here)
	PYENV_VERSION=3.13.0:3.11.7 $(SAM_VENV)/bin/sam build

clean: ## Remove build and test leftovers (not .venv)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

bench: $(STAMP) ## Benchmarks: AWS requests per operation, reminder sweep reads, local stack startup; writes bench/results.json
	$(BIN)/python bench/run.py

load: $(STAMP) ## 8 partners x 50 reports at once on a fresh local stack, then checks (ARGS="--partners N --reports M --timeout S")
	$(BIN)/python bench/load.py $(ARGS)

SEC_VENV := .venv-security
$(SEC_VENV)/bin/checkov:
	$(PYTHON) -m venv $(SEC_VENV)
	$(SEC_VENV)/bin/python -m pip install -q bandit pip-audit checkov

security: $(SEC_VENV)/bin/checkov ## bandit on the code, checkov on the template, pip-audit on the layer's pins (own venv; not yet in make test)
	$(SEC_VENV)/bin/bandit -q -r layers/kanal/kanal functions -x layers/kanal/kanal/local --severity-level medium
	-$(SEC_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact
	-$(SEC_VENV)/bin/pip-audit -r layers/kanal/requirements.txt
