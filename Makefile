# The README's test command is `make test`: it builds what the tests need and runs them. Each
# step does only what is missing, so a second run goes straight to the tests.
#
#   make test           the venv from uv.lock, the checkers (.ci/install.d/*.sh, actionlint), pytest: the
#                       tests that need no engine and no stand-in while those build, then the rest
#   make fast           the venv, then the tests that need no checker, no daemon and no Pulumi engine built:
#                       all but tests/integration, tests/live and tests/engine (pre-commit runs this before a push)
#   make lint           ruff check + ruff format --check over the tree
#   make typecheck      mypy over components/, scripts/, harness/, __main__.py, tests/benchmarks/ and policy/
#   make check          lint + typecheck
#   make lock           re-resolve pyproject.toml into uv.lock and export requirements.txt
#   make config-schema  regenerate Pulumi.yaml's config block and docs/configuration.md from components/settings.py,
#                       components/catalog.py and the Pulumi.<stack>.yaml files
#   make plan STACK=dev the offline plan of a stack, as the pull-request workflow posts it

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := test
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
PYTEST_ARGS ?=
STACK ?= dev
# actionlint: PyPI has it only as an sdist that downloads the binary, so it is built from its Go module.
# renovate: datasource=go depName=github.com/rhysd/actionlint
ACTIONLINT_VERSION := 1.7.12
# uv runs in a venv of its own, at the version uv.lock pins (so Renovate updates one place).
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
ifeq ($(UV_VERSION),)
$(error uv.lock pins no uv: keep uv in pyproject.toml's dev group and run `uv lock`)
endif
UV_HOME := build/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test fast venv tools checkers standins standins-only engine actionlint lint typecheck check lock config-schema plan

# What needs the engine or the stand-ins runs last; every other test runs while those build (the
# Go compiles and the stand-ins' downloads leave CPU to spare: from nothing they take about 17
# minutes after the checkers). Their output is kept in build/engine.log and build/standins.log and
# shown once they are done.
AFTER_TOOLS := tests/engine tests/live tests/test_engine_schemas.py

test: venv actionlint
	@mkdir -p build
	echo "== the engine builds in the background: build/engine.log"
	$(MAKE) --no-print-directory engine > build/engine.log 2>&1 & engine=$$!
	trap 'kill $$engine $${standins:-} 2>/dev/null || true' EXIT  # no build left behind by a failed step
	$(MAKE) --no-print-directory checkers
	echo "== the stand-ins build in the background: build/standins.log"
	$(MAKE) --no-print-directory standins-only > build/standins.log 2>&1 & standins=$$!
	status=0 selected=0
	# Each run's status: 5 (options such as -k left it nothing to run) fails only if both had nothing.
	tests() { local rc=0; $(VENV)/bin/python -m pytest "$$@" $(PYTEST_ARGS) || rc=$$?
	  case $$rc in 0) selected=1 ;; 5) ;; *) selected=1 status=$$rc ;; esac; }
	tests $(addprefix --ignore=,$(AFTER_TOOLS))
	for tool in engine standins; do
	  if ! wait "$${!tool}"; then echo "== $$tool FAILED:"; cat "build/$$tool.log"; exit 1; fi
	  echo "== $$tool (build/$$tool.log):"; cat "build/$$tool.log"
	done
	tests $(AFTER_TOOLS)
	[ $$selected = 1 ] || status=5
	exit $$status

# tests/live starts a Docker Engine of its own wherever one can start and deploys on it; tests/engine
# runs the Pulumi CLI built from Go modules, and a throwaway PostgreSQL: `make test` runs both, `make fast` never.
fast: venv
	$(VENV)/bin/python -m pytest -q --ignore=tests/integration --ignore=tests/live --ignore=tests/engine $(PYTEST_ARGS)

$(UV):
	rm -rf build/uv-*
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet "uv==$(UV_VERSION)"

# The venv is synced when uv.lock or pyproject.toml changed since it last was (their hash is its stamp).
# --locked also refuses a uv.lock that no longer matches pyproject.toml: run `make lock`.
venv: $(UV)
	@stamp=$$(cat uv.lock pyproject.toml | sha256sum | cut -d' ' -f1)
	if [ -x $(VENV)/bin/python ] && [ "$$(cat $(VENV)/.datalyptica-lock 2>/dev/null)" = "$$stamp" ]; then exit 0; fi
	echo "== $(VENV) from uv.lock"
	$(UV) sync --locked --quiet
	echo "$$stamp" > $(VENV)/.datalyptica-lock

# The engine's build is CPU (Go compiles), the checkers' installs and the stand-ins' builds mostly
# downloads: the two run side by side (from nothing, each took about 10 minutes alone).
tools: actionlint
	@$(MAKE) --no-print-directory -j2 engine standins

# Each layer's checkers (PostgreSQL, Patroni, HAProxy, promtool, JupyterHub, ...) install here, each
# script in its own shell with the helpers of .ci/lib.sh; every script checks first and installs only
# what is missing.
checkers: venv
	@for script in .ci/install.d/*.sh; do
	  [ -e "$$script" ] || continue
	  echo "== $$script"
	  start=$$SECONDS
	  bash -euo pipefail -c 'source .ci/lib.sh; source "$$1"' install "$$script"
	  echo "   done in $$((SECONDS - start)) s"
	done

# The live tests' stand-in images (tests/live/standins/), built ahead on the tests' own Docker
# Engine once the checkers (Docker among them) are in; cached by their inputs, so nothing warm.
standins: checkers standins-only

standins-only: venv
	@$(VENV)/bin/python -m tests.live.standins --ahead

# The Pulumi CLI and the docker and random providers the live tests deploy with, built from Go
# modules (tests/engine/tooling.py), cached by a hash of their inputs: minutes cold, nothing warm.
engine: venv
	@if ! command -v go >/dev/null; then
	  echo "== the Pulumi engine is not built: no Go toolchain; the live tests will say so"
	  exit 0
	fi
	$(VENV)/bin/python -m tests.engine.tooling build

actionlint:
	@if [ "$$(build/bin/actionlint -version 2>/dev/null | head -1)" = "v$(ACTIONLINT_VERSION)" ]; then exit 0; fi
	if ! command -v go >/dev/null; then
	  echo "== actionlint not built: no Go toolchain; tests/test_workflows.py will say so"
	  exit 0
	fi
	echo "== actionlint $(ACTIONLINT_VERSION)"
	GOBIN=$(CURDIR)/build/bin GOTOOLCHAIN=local go install "github.com/rhysd/actionlint/cmd/actionlint@v$(ACTIONLINT_VERSION)"

# lint, typecheck and check run every checker they name and fail at the end if any failed, so one
# CI run lists all the findings.
lint: venv
	@status=0
	echo "== ruff check"
	$(VENV)/bin/ruff check . || status=1
	echo "== ruff format --check"
	$(VENV)/bin/ruff format --check . || status=1
	exit $$status

# policy/ is a program of its own (Pulumi runs it from its folder, as `__main__`), so it is checked on its own.
typecheck: venv
	@status=0
	echo "== mypy components scripts harness __main__.py tests/benchmarks"
	$(VENV)/bin/mypy components scripts harness __main__.py tests/benchmarks || status=1
	echo "== mypy policy/"
	(cd policy && ../$(VENV)/bin/mypy --config-file ../pyproject.toml __main__.py datalyptica_policies.py) || status=1
	exit $$status

check: venv
	@status=0
	$(MAKE) lint || status=1
	$(MAKE) typecheck || status=1
	exit $$status

lock: $(UV)
	$(UV) lock
	$(UV) export --frozen --no-dev --no-emit-project --quiet --output-file requirements.txt

# docs/configuration.md also reads the program under mocks (container ports, stack outputs): a few seconds.
config-schema: venv
	$(VENV)/bin/python -m scripts.config_schema --write
	$(VENV)/bin/python -m scripts.config_docs --write

plan: venv
	$(VENV)/bin/python -m scripts.plan $(STACK)
