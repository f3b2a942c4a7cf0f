# The two set-up commands: `make demo` and `make test`. Each makes .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test check proto bench bench-data bench-decisions bench-pipeline bench-tune bench-models bench-evaluation bench-store bench-serve bench-monitor format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	# torch pinned to its CPU build first: left to itself pip picks a CUDA build of several GB.
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/python tests/layers.py

# The gRPC modules of the Open Inference Protocol, from src/loopml/serve/_proto/*.proto
proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/data/run.py
	$(BIN)/python bench/data/decisions.py
	$(BIN)/python bench/data/validate_cli.py
	$(BIN)/python bench/pipeline/run.py
	$(BIN)/python bench/tune/run.py
	$(BIN)/python bench/models/signature.py
	$(BIN)/python bench/serve/batch_scoring.py
	$(BIN)/python bench/evaluation/run.py
	$(BIN)/python bench/evaluation/latency.py
	$(BIN)/python bench/evaluation/gate_power.py
	$(BIN)/python bench/store/changes.py
	$(BIN)/python bench/store/queries.py

bench-data: $(STAMP)
	$(BIN)/python bench/data/run.py

bench-decisions: $(STAMP)
	$(BIN)/python bench/data/decisions.py
	$(BIN)/python bench/data/validate_cli.py

bench-pipeline: $(STAMP)
	$(BIN)/python bench/pipeline/run.py

bench-tune: $(STAMP)
	$(BIN)/python bench/tune/run.py

bench-models: $(STAMP)
	$(BIN)/python bench/models/signature.py
	$(BIN)/python bench/serve/batch_scoring.py

bench-evaluation: $(STAMP)
	$(BIN)/python bench/evaluation/run.py
	$(BIN)/python bench/evaluation/latency.py
	$(BIN)/python bench/evaluation/gate_power.py

bench-store: $(STAMP)
	$(BIN)/python bench/store/changes.py
	$(BIN)/python bench/store/queries.py

bench-serve: $(STAMP)
	$(BIN)/python bench/serve/run.py

bench-monitor: $(STAMP)
	$(BIN)/python bench/monitor/join.py
	$(BIN)/python bench/monitor/drift.py
	$(BIN)/python bench/monitor/drift_control.py
	$(BIN)/python bench/monitor/decay_triggers.py

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples

clean:
	rm -rf $(VENV) .venv-bench-* bench/.venvs .venv-airflow .pytest_cache .mypy_cache .ruff_cache
