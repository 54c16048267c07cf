# Two entry points for a fresh machine: `make run` and `make test`. Both install what they need
# into a virtual environment in the checkout (.venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job: an instance on the embedded default (SQLite) with a demo municipality, served
## on http://127.0.0.1:8000 with every worker (the demo data is loaded once; a re-run just serves).
run: $(STAMP)
	$(BIN)/jpki init
	$(BIN)/jpki demo --serve

## The whole test suite (PostgreSQL too when JPKI_TEST_PG_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest

## Static checks: ruff, mypy and the package-boundary contracts of DESIGN.md §2.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/jpki bench population --size 100000

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
