# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# pytest-xdist workers for `make test` / `make pytest`; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto
# Which marked suites run: everything but the long fuzzing run (`make pytest PYTEST_MARKERS="fuzz and slow"`).
PYTEST_MARKERS ?= not (fuzz and slow)

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

# The server, and beside it one export worker (stopped with the server).
run: $(STAMP)
	TESTIMONY_DEVELOPMENT=$${TESTIMONY_DEVELOPMENT:-true} $(BIN)/testimony init
	export TESTIMONY_DEVELOPMENT=$${TESTIMONY_DEVELOPMENT:-true}; \
	$(BIN)/testimony worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/testimony serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
