# Two commands matter on a fresh machine: `make backtest` and `make test`.
# Both create .venv when missing and install the package with its test extras,
# pinned by constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: backtest test test-quick lint bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $(STAMP)

backtest: $(STAMP)
	$(BIN)/kraken-global backtest --config configs/default.yaml --out results/default

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# the loop while working: everything but the scenarios marked slow (make test runs them all, as CI does)
test-quick: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf results .pytest_cache build *.egg-info
