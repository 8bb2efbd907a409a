# One obvious command per habit. Each target installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SAM_VENV := .venv-sam
export AWS_DEFAULT_REGION ?= ap-southeast-3
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run test lint format typecheck template-lint layer-check pytests unit-tests component integration validate build clean bench security load lock browser

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

test: lint typecheck template-lint security layer-check pytests ## Lint, type-check, lint the template, security scans, the layer's imports, every test with coverage

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

pytests: $(STAMP) browser ## Every test, at every level, with branch coverage (at least 90 %)
	$(BIN)/pytest --cov --cov-report=term

# One level at a time (tests/<level>, the marker of the same name; tests/conftest.py), without coverage.
unit-tests: $(STAMP) ## Unit tests: rules and pure code on in-memory fakes (pytest -m unit)
	$(BIN)/pytest -m unit

component: $(STAMP) browser ## Component tests: handlers, adapters and the CLI on moto, the local stack's pieces (pytest -m component)
	$(BIN)/pytest -m component

integration: $(STAMP) ## Integration tests: `kanal dev` in a subprocess, over HTTP (pytest -m integration)
	$(BIN)/pytest -m integration

# The report's browser check (tests/component/test_stats_report_browser.py) runs Debian's chromium through
# playwright, which uses that browser and downloads none of its own. apt-get installs it when it is missing (as root,
# or with a sudo that asks for no password); without it the check fails, it does not skip.
APT := $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)

browser: ## Debian's chromium, for the report's browser check (apt-get install when missing)
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the report's browser check"; \
		$(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq --no-install-recommends \
			chromium fonts-dejavu-core; }

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli

validate: $(SAM_VENV)/bin/sam ## sam validate --lint (SAM CLI in its own venv: it pins its own boto3 and pydantic)
	$(SAM_VENV)/bin/sam validate --lint

build: $(SAM_VENV)/bin/sam ## sam build for arm64 (needs python3.13 on PATH; pyenv provides it here)
	PYENV_VERSION=3.13.0:3.11.7 $(SAM_VENV)/bin/sam build

layer-check: build ## What sam build made for Lambda imports nothing of the CLI, the local stack or their tools
	$(PYTHON) .ci/layer_check.py --build .aws-sam/build

clean: ## Remove build and test leftovers (not .venv)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

bench: $(STAMP) ## Benchmarks (cold start, AWS requests, ingest, review, memory, cost); bench/results.json, docs/performance.md
	$(BIN)/python bench/run.py

load: $(STAMP) ## 8 partners x 50 reports at once on a fresh local stack, then checks (ARGS="--partners N --reports M --timeout S")
	$(BIN)/python bench/load.py $(ARGS)

# Security scans, in a venv of their own, apart from the dev tools (checkov alone brings about 100 packages). The
# tools are pinned so every run applies the same rules: raise them on purpose and rerun. docs/security.md says what runs
# and why each accepted finding is accepted.
SEC_VENV := .venv-security
SEC_BIN := $(SEC_VENV)/bin
SEC_TOOLS := bandit==1.9.4 checkov==3.3.30 pip-audit==2.10.1
SEC_STAMP := $(SEC_VENV)/.installed-$(shell echo '$(SEC_TOOLS)' | sha1sum | cut -c1-12)
# tools/kanal_local is the development stack's emulator (`kanal dev`, moto), never in the layer. Its own
# bandit run also accepts B105 (moto's fake "testing" credentials) and B506 (yaml.load with a SafeLoader subclass).
BANDIT_LOCAL_SKIPS := B105,B506
# The layer's direct dependencies (requirements.in) and its lock (requirements.txt: every package, pinned with
# its wheel's hash for CPython 3.13 on arm64 Linux), which sam build installs and pip-audit audits.
LAYER_IN := layers/kanal/requirements.in
LAYER_LOCK := layers/kanal/requirements.txt
# pip-audit asks PyPI's JSON API, else an OSV API: this one, or a mirror of it (make security OSV_URL=...).
OSV_URL ?= https://api.osv.dev/v1/query
# AUDIT_REQUIRED=1: fail when no vulnerability service answers, instead of saying so and going on.
AUDIT_REQUIRED ?= 0

$(SEC_STAMP):
	@test -x $(SEC_BIN)/python || $(PYTHON) -m venv $(SEC_VENV)
	$(SEC_BIN)/python -m pip install -q $(SEC_TOOLS)
	@rm -f $(SEC_VENV)/.installed-*; touch $@

security: $(SEC_STAMP) ## bandit, checkov and pip-audit (own venv); fails on any finding not accepted with a reason
	$(SEC_BIN)/bandit -c pyproject.toml -q -r layers/kanal/kanal functions tools/kanal_cli
	$(SEC_BIN)/bandit -c pyproject.toml -q -r tools/kanal_local -s $(BANDIT_LOCAL_SKIPS)
	@echo "bandit: no findings beyond those accepted in pyproject.toml and BANDIT_LOCAL_SKIPS"
	$(SEC_BIN)/checkov -f template.yaml --framework cloudformation --skip-download -o json > $(SEC_VENV)/checkov.json; \
	status=$$?; $(SEC_BIN)/python .ci/security_gate.py checkov $(SEC_VENV)/checkov.json && exit $$status
	@service=$$($(SEC_BIN)/python .ci/security_gate.py audit-service $(LAYER_IN) $(LAYER_LOCK) $(OSV_URL)) \
		|| exit 1; \
	if [ -n "$$service" ]; then \
		echo "pip-audit -s $$service on $(LAYER_LOCK)"; \
		$(SEC_BIN)/pip-audit -s $$service --osv-url $(OSV_URL) -r $(LAYER_LOCK) --disable-pip --strict \
			--progress-spinner off; \
	elif [ "$(AUDIT_REQUIRED)" = 1 ]; then \
		exit 1; \
	fi

lock: $(SEC_STAMP) ## Rewrite the layer's hashed lock (layers/kanal/requirements.txt) from requirements.in
	$(SEC_BIN)/python -m pip install -q --dry-run --ignore-installed --target $(SEC_VENV)/layer-dry-run \
		--only-binary=:all: --implementation cp --python-version 3.13 --platform manylinux2014_aarch64 \
		--report $(SEC_VENV)/layer-report.json -r $(LAYER_IN)
	$(SEC_BIN)/python .ci/security_gate.py lock $(SEC_VENV)/layer-report.json $(LAYER_LOCK)
