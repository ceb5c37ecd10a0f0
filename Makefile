# The two commands of the README:
#   make demo   install into .venv, then run the workflow on the embedded demo dataset
#   make test   install into .venv, then run the test suite
#   make test-fast   the edit-test loop: every test that runs no workflow (2.5 minutes)
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test test-fast lint install report clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[models,workflow,dev]'
	touch $@

demo: install
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --cores 1 --report results/demo/report.html

test: install
	$(BIN)/python -m pytest -n $(CORES) --dist loadgroup -ra

test-fast: install
	$(BIN)/python -m pytest -n $(CORES) -m "not workflow and not slurm" -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --cores 1

clean:
	rm -rf results .snakemake
