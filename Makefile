# `make run`, `make test` (the quick loop: all but the `slow` tests) and `make test-all` (what CI
# runs: everything). Each sets up .venv itself.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test test-all fuzz bench diagrams clean

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

# The quick loop runs on every core (pytest-xdist: each worker has its own Redis keys, ports and,
# without YWTB_REDIS_URL, its own embedded Redis); CI's full run stays in one process, where the
# slow tests' timings are not shared with a second worker.
test: $(VENV)/.dev
	$(PY) -m pytest -m "not slow" -n auto

test-all: $(VENV)/.dev
	$(PY) -m pytest

# Longer fuzzing: each atheris harness in fuzz/ for FUZZ_SECONDS, then the hypothesis
# properties of tests/test_fuzz.py with many more examples. Without atheris, hypothesis alone.
FUZZ_SECONDS ?= 120
fuzz: $(VENV)/.dev
	-$(PIP) -e '.[dev,fuzz]'
	$(PY) -m fuzz --seconds $(FUZZ_SECONDS); status=$$?; [ $$status -eq 0 ] || [ $$status -eq 3 ]
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/test_fuzz.py -q -p no:cacheprovider

# The benchmark (bench/README.md): every target, its extras, and the JSON in var/bench.json.
# wrk comes from Debian's package when it can be installed; without it a slower generator runs.
BENCH_ARGS ?=
$(VENV)/.bench: pyproject.toml | $(PY)
	$(PIP) -e '.[bench]'
	@touch $@ $(VENV)/.run

bench: $(VENV)/.bench
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || echo "bench: wrk not installed; using the asyncio generator"
	$(PY) -m bench --json var/bench.json $(BENCH_ARGS)

diagrams: $(VENV)/.run
	$(PY) -m bot diagrams

clean:
	rm -rf $(VENV) var .pytest_cache
