SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlarena-installed
DB ?= results/dlarena.db

.PHONY: run test check lint browser clean venvs

$(STAMP): pyproject.toml scripts/install.sh scripts/install-data.sh
	PYTHON=$(PYTHON) bash scripts/install.sh $(VENV)
	touch $(STAMP)

# The run's exit status survives the report step: 1 means some cells failed (stored, shown).
run: $(STAMP)
	@status=0; $(BIN)/dlarena run --suite default --db $(DB) || status=$$?; \
	if [ $$status -le 1 ]; then \
	  $(BIN)/dlarena report --db $(DB) --format markdown --out results/report.md && \
	  $(BIN)/dlarena report --db $(DB) --format json --out results/report.json && \
	  $(BIN)/dlarena report --db $(DB) --format html --out results/report.html; \
	fi; exit $$status

# Two lanes (pytest-xdist), each on CPUs of its own (tests/conftest.py), a test file at a
# time per lane so a file's shared fixtures are made once.
test: $(STAMP) venvs lint browser
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=30

# The fast lane, for every change: lint, types and the tests that need no real framework and
# are not marked slow, on every core (pytest-xdist). `make test` runs them all, one at a time.
check: lint
	$(BIN)/python -m pytest -n auto -m "not frameworks and not slow" --durations=5

# MXNet, Chainer and PaddlePaddle, each in its own environment (.venv-mxnet, ...) beside
# this one: see docs/old-frameworks.md. One that fails to install says why in `dlarena list`.
venvs:
	PYTHON=$(PYTHON) bash scripts/install-venvs.sh

# The HTML report is tested in Debian's headless Chromium, on a fresh machine too.
browser:
	bash scripts/install-browser.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pylint src/dlarena

clean:
	rm -rf $(VENV) .venv-mxnet .venv-chainer .venv-paddle results .pytest_cache .mypy_cache .ruff_cache
