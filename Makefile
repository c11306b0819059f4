# Two commands: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test diagrams clean

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ywtb-bot needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run: pyproject.toml | $(PY)
	$(PIP) -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(PY) -m bot serve

test: $(VENV)/.dev
	$(PY) -m pytest

diagrams: $(VENV)/.run
	$(PY) -m bot diagrams

clean:
	rm -rf $(VENV) var .pytest_cache
