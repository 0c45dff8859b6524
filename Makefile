# tap-heymarket developer commands. GNU make; needs only python3 (>= 3.11) to start.
#   make test   venv + lint (ruff, mypy) + the whole pytest suite (tests/unit, sandbox, tap, e2e)
#   make demo   venv + meltano install + sandbox -> meltano run -> DuckDB summary
#   make clean  remove the venv, .meltano/, output/ and caches

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.make-installed
MELTANO_VERSION := 4.4.1

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help venv lint test unit demo clean catalog settings-table plugin-definition

help:
	@echo "make venv   create $(VENV) (editable tap + dev tools + meltano==$(MELTANO_VERSION))"
	@echo "make lint   ruff check + ruff format --check + mypy"
	@echo "make test   lint, then the whole pytest suite"
	@echo "make unit   the fast tests only: tests/unit/ and tests/sandbox/ (no tap subprocesses)"
	@echo "make mutate mutation testing of the walker, STATE and sweep modules (docs/testing.md)"
	@echo "make demo   sync the local sandbox into DuckDB with Meltano and print a summary"
	@echo "make clean  remove $(VENV), .meltano/, output/ and caches"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: '$(PYTHON)' not found; install Python >= 3.11 or run 'make PYTHON=/path/to/python3.x'" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "error: Python >= 3.11 required, '$(PYTHON)' is $$($(PYTHON) -V 2>&1); run 'make PYTHON=/path/to/python3.x'" >&2; exit 1; }
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e . --group dev 'meltano==$(MELTANO_VERSION)'
	@# The repository's own packages (the sandbox, the dev helpers) are not in the tap's wheel:
	@# this venv finds them here, from any directory.
	$(VPY) -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "heymarket-repo.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
	@touch $@

SOURCES := tap_heymarket heymarket_sandbox heymarket_dev tests scripts

lint: venv
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/ruff format --check $(SOURCES)
	$(VENV)/bin/mypy

# The suite in parallel (pytest-xdist; docs/testing.md, "What runs where"). More workers than
# cores: most slow tests wait on subprocesses, the sandbox and pacing. Groups (tests/conftest.py)
# keep tests that share a fixture or the Meltano project on one worker; the longest go first.
TEST_WORKERS ?= 6
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The fast tests run once, inside tests/e2e/test_make_unit.py (`make unit`, as the README
# shows it, beside the slow tests); running them again here would only cost CPU time.
test: venv lint
	$(VPY) -m pytest -W error $(XDIST) --durations=25 -m slow

# The fast loop (under a minute): tests/unit/ and tests/sandbox/. tests/conftest.py marks
# every test under tests/tap/ and tests/e2e/ `slow` by its folder. One worker per core: on
# 2 cores, 39 s instead of 69 s serial.
unit: venv
	$(VPY) -m pytest -W error -m "not slow" -q -n auto

demo: venv
	$(VPY) scripts/demo.py

catalog: venv
	$(VPY) scripts/make_catalog.py

settings-table: venv
	$(VPY) scripts/settings_table.py

plugin-definition: venv
	$(VPY) scripts/make_plugin_definition.py

clean:
	rm -rf $(VENV) .meltano mutants .pytest_cache .ruff_cache .mypy_cache build *.egg-info
	find output -mindepth 1 ! -name .gitkeep -exec rm -rf {} +  # output/ itself is tracked
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# make bench [BENCH_ARGS="--sizes 10000,100000 --with-1m --rate-limited --repeat 2"]
# Baseline vs tap vs Meltano->DuckDB on the sandbox; see docs/benchmarks.md.
# Mutation testing (docs/testing.md): mutmut over the walker, a walk's STATE, the --state
# checks and the delete sweep, against the fast suite. Not part of CI (about 80 minutes on 2
# cores). mutmut keeps its work in mutants/ and resumes there; `rm -rf mutants` starts over.
.PHONY: mutate
MUTATE_JOBS ?= 2
mutate: venv
	$(VPY) -m pip install --quiet --group mutate
	$(VPY) -m mutmut run --max-children $(MUTATE_JOBS)
	$(VPY) scripts/mutation_score.py

.PHONY: bench
BENCH_ARGS ?=
bench: venv
	$(VPY) scripts/bench.py $(BENCH_ARGS)
