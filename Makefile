# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "python3 -m uv")
export VP_HOME ?= $(CURDIR)/.vp
export DAGSTER_HOME ?= $(VP_HOME)/dagster

.PHONY: install system-deps dagster-home demo dev test test-quick lint stack-up stack-down clean

install:
	@scripts/bootstrap.sh

system-deps:
	@scripts/system-deps.sh

dagster-home:
	@mkdir -p $(DAGSTER_HOME) && ln -sfn $(CURDIR)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## The main job on the embedded stack: start it, verify v24.1.0-rc1 then v24.1.0-rc2 (reads slowed 40 ms) end to end, compare them, stop it.
demo: install dagster-home
	$(UV) run verification-pipeline demo $(DEMO_ARGS)

## Stack up, then the Dagster UI (webserver + daemon) with the code location loaded.
dev: install dagster-home
	$(UV) run verification-pipeline stack up
	set -a && . $(VP_HOME)/stack/env && set +a && $(UV) run dagster dev -w workspace.yaml

## The whole suite, with every real component it uses (installed when missing); lint first.
## Two pytest processes, one per core: the tests that measure time in front, the rest at nice 19.
test: install system-deps lint
	scripts/test.sh $(PYTEST_ARGS)

## The quick loop: leaves out the slow scenarios (CI runs them all).
test-quick: install system-deps
	TEST_MARKS="not slow" scripts/test.sh $(PYTEST_ARGS)

## ruff, and mypy over verification_pipeline/ and reference_target/ (settings in pyproject.toml).
lint: install
	$(UV) run ruff check verification_pipeline reference_target tests benchmarks
	$(UV) run mypy

stack-up: install
	$(UV) run verification-pipeline stack up

stack-down: install
	$(UV) run verification-pipeline stack down

clean:
	-$(UV) run verification-pipeline stack down
	rm -rf .vp demo-output .cache .pytest_cache .hypothesis
