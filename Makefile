# The two commands of the README:
#   make run    create .venv, install netregions, run the workflow on config.yaml (--cores 2)
#   make test   create/update .venv with the test extras, run every check and the test suite
# Everything else here is a step of those two.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
NILEARN_VENV := .venv-nilearn
BENCH_VENV := .venv-bench

.PHONY: run test install install-test check pytest reference-env bench test-slurm-full clean

run: install
	$(BIN)/snakemake --cores $(CORES)

test: install-test reference-env check pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-run pip when pyproject.toml changes; the kernels are compiled once into
# numba's on-disk cache so that parallel jobs do not all compile them on the first run.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m netregions.kernels
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,slurm]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# nilearn, for the parity tests only, in its own environment (never a runtime dependency)
reference-env: $(NILEARN_VENV)/.installed

$(NILEARN_VENV)/.installed:
	$(PYTHON) -m venv $(NILEARN_VENV)
	$(NILEARN_VENV)/bin/python -m pip install --quiet nilearn==0.14.1
	touch $@

# The end-to-end benchmark runs in what `make run` installs from a fresh clone: the runtime
# dependencies only. The test extras add the SLURM executor plugin, which Snakemake imports
# at every invocation (with pandas: +0.3 s per run) and scikit-learn then imports pandas too.
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	$(BENCH_VENV)/bin/python -m netregions.kernels
	touch $@

BENCH_ARGS ?= --reference
bench: $(BENCH_VENV)/.installed reference-env
	$(BENCH_VENV)/bin/python benchmarks/workflow.py $(BENCH_ARGS)

check:
	$(BIN)/ruff check src tests benchmarks workflow/scripts docs
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts docs
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

pytest:
	$(BIN)/python -m pytest

# the SLURM test runs every rule through SLURM (make test runs it up to the components only)
test-slurm-full: install-test
	tests/slurm/run_slurm_test.sh --full

clean:
	rm -rf results .snakemake
