# vibench: the two commands of the README.
#   make run   - set up .venv if needed, compile a shipped spec to build/model.py, run it on a
#                synthetic vibration batch and print a shape/parameter summary
#   make test  - set up .venv if needed and run the whole test suite, one process per core (CI runs this)
# Other targets: env, bench, golden (refresh golden files), schema (refresh the JSON Schema),
# parity-table and isfm-matrix (refresh docs/library.md's generated tables), docs (refresh docs/blocks.md and
# docs/templates.md from the registry and the library), lint, reference (install
# what PHM-Vibench's model files import and check the checkout at REFERENCE, for
# scripts/record_reference_values.py), fuzz (the differential campaign, scripts/fuzz.py: FUZZ_VALID
# generated specs and FUZZ_MUTATIONS mutated shipped specs with FUZZ_SEED; report in build/fuzz),
# device-check (every library template on a GPU against the CPU, scripts/device_check.py).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
REFERENCE ?= .reference/PHM-Vibench
# An extra package index for torch (e.g. https://download.pytorch.org/whl/cpu): where pip finds no CPU
# wheel of the pinned torch, PyPI's Linux wheel is the CUDA build (gigabytes). Empty: pip's own config.
TORCH_INDEX ?=
export HYPOTHESIS_PROFILE ?= ci
# Processes `make test` runs the suite in (pytest-xdist): one per CPU core, at most 8 (each imports torch);
# TEST_WORKERS=0 runs it in make's own process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 8 ? n : 8 )))

.PHONY: run test env bench golden schema parity-table isfm-matrix backend-table docs lint reference fuzz device-check clean

$(STAMP): requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
	  -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# Byte-compile vibench as `pip install` does for an installed package (PYTHONDONTWRITEBYTECODE=1 here
# would otherwise make every run compile vibench's own modules again; compileall redoes changed files only).
env: $(STAMP)
	$(BIN)/python -m compileall -q vibench

run: $(STAMP)
	$(BIN)/python examples/run_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# Every benchmark runs even when another misses its target or fails; the last lines list each one's
# exit status. benchmarks/forward.py compares with the PHM-Vibench checkout at REFERENCE when there is
# one (otherwise it prints vibench's own figures and says the comparison was skipped). A benchmark
# that cannot run here (editor_latency.py without node and npm) exits 77 after a line saying why: skipped.
BENCHMARKS = startup.py scale.py editor_latency.py lsp_latency.py \
	"forward.py $(if $(wildcard $(REFERENCE)/src/model_factory/model_factory.py),--reference $(REFERENCE))"
bench: $(STAMP)
	@status=0; report=; \
	for bench in $(BENCHMARKS); do \
	  echo "== benchmarks/$$bench"; \
	  $(BIN)/python benchmarks/$$bench; code=$$?; \
	  if [ $$code -eq 77 ]; then what=skipped; else what="exit $$code"; [ $$code -eq 0 ] || status=1; fi; \
	  report="$$report\n  benchmarks/$$bench: $$what"; \
	done; \
	printf "== bench summary (exit 0: targets met; 1: a target missed or a case failed; skipped: could not run here,\
	 the reason is printed above):$$report\n"; exit $$status

golden: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_golden.py --update-golden

# The committed schema covers the shipped library only: a VIBENCH_SPEC_PATH of your own stays out.
schema: $(STAMP)
	VIBENCH_SPEC_PATH= $(BIN)/vibench-compile schema -o vibench/schemas/spec.schema.json

parity-table: $(STAMP)
	$(BIN)/python scripts/parity_table.py

backend-table: $(STAMP)
	$(BIN)/python scripts/backend_table.py

docs: $(STAMP)
	VIBENCH_SPEC_PATH= $(BIN)/python scripts/reference_docs.py

isfm-matrix: $(STAMP)
	$(BIN)/python scripts/isfm_matrix.py

FUZZ_VALID ?= 500
FUZZ_MUTATIONS ?= 5000
FUZZ_SEED ?= 0
fuzz: $(STAMP)
	$(BIN)/python scripts/fuzz.py --snapshot --valid $(FUZZ_VALID) --mutations $(FUZZ_MUTATIONS) --seed $(FUZZ_SEED) \
	  --out build/fuzz

# On a machine with a GPU: every library template on DEVICE against the CPU (outputs, bf16 autocast,
# a training step; torch.compile for DEVICE_COMPILE). CI has no GPU; `DEVICE=cpu` runs the same checks.
DEVICE ?= cuda
DEVICE_COMPILE ?= cnn/ResNet1D transformer/PatchTST transformer/Autoformer isfm/M_02_ISFM no/FNO mlp/MLPMixer \
	x_model/TSPN
device-check: $(STAMP)
	$(BIN)/python scripts/device_check.py --device $(DEVICE) --compile $(DEVICE_COMPILE)

lint: $(STAMP)
	$(BIN)/ruff check vibench tests benchmarks examples scripts
	$(BIN)/mypy
	$(BIN)/mypy --strict --follow-imports=silent vibench/compiler/ir.py vibench/compiler/ir_verify.py vibench/compiler/pipeline.py \
		vibench/compiler/scoped.py \
		vibench/compiler/unit_builder.py vibench/compiler/elaborate.py vibench/compiler/elaborate_inputs.py vibench/compiler/typecheck.py \
		vibench/compiler/typecheck_composite.py vibench/compiler/build_warnings.py vibench/compiler/names.py \
		vibench/compiler/adapters.py vibench/compiler/roles.py \
		vibench/compiler/reference_text.py vibench/compiler/reference_templates.py

# A PHM-Vibench checkout (github.com/PHMbench/PHM-Vibench at 6fa64c7) must already be at REFERENCE.
reference: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.txt -r requirements-reference.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target "$(REFERENCE)/../pydeps" \
	  timm==1.0.20 pywavelets==1.9.0 pytorch-wavelets==1.3.0 setuptools==79.0.1
	$(BIN)/python scripts/reference.py "$(REFERENCE)"

clean:
	rm -rf build .pytest_cache .hypothesis
