# vibench: the two commands of the README.
#   make run   - set up .venv if needed, compile a shipped spec to build/model.py, run it on a
#                synthetic vibration batch and print a shape/parameter summary
#   make test  - set up .venv if needed and run the whole test suite (CI runs this)
# Other targets: env, bench, golden (refresh golden files), schema (refresh the JSON Schema),
# parity-table and isfm-matrix (refresh the README's generated tables), lint.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
export HYPOTHESIS_PROFILE ?= ci

.PHONY: run test env bench golden schema parity-table isfm-matrix lint clean

$(STAMP): requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	$(BIN)/python examples/run_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/editor_latency.py

golden: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_golden.py --update-golden

# The committed schema covers the shipped library only: a VIBENCH_SPEC_PATH of your own stays out.
schema: $(STAMP)
	VIBENCH_SPEC_PATH= $(BIN)/vibench-compile schema -o vibench/schemas/spec.schema.json

parity-table: $(STAMP)
	$(BIN)/python scripts/parity_table.py

isfm-matrix: $(STAMP)
	$(BIN)/python scripts/isfm_matrix.py

lint: $(STAMP)
	$(BIN)/ruff check vibench tests benchmarks examples scripts
	$(BIN)/mypy

clean:
	rm -rf build .pytest_cache .hypothesis
