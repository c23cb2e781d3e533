# Set-up and the main jobs. Needs only Python 3.11+ with venv and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded default data
	$(BIN)/cobic demo

test: $(STAMP)  ## lint and the test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## benchmarks (not unit tests; see benchmarks/README.md)
	$(BIN)/python benchmarks/bench_data_layer.py
	$(BIN)/python benchmarks/bench_demand_accuracy.py
	$(BIN)/python benchmarks/bench_demand_speed.py
	$(BIN)/python benchmarks/bench_contract_speed.py
	$(BIN)/python benchmarks/bench_notebooks.py
	$(BIN)/python benchmarks/bench_spend_backtest.py
	$(BIN)/python benchmarks/bench_known_truth.py
	$(BIN)/python benchmarks/bench_placement_mix.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_design.py
	$(BIN)/python benchmarks/bench_browser.py

notebooks: $(STAMP)  ## open the notebooks as apps (one at a time: NB=contract_sizing)
	$(BIN)/marimo run notebooks/$(or $(NB),contract_sizing).py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache cobic-demo-output benchmarks/out screenshots

.PHONY: mutate
mutate: $(STAMP)  ## mutation testing (slow; not part of `make test`): writes mutation/REPORT.md
	$(BIN)/python mutation/run.py $(GROUPS) $(if $(BUDGET),--budget $(BUDGET))
	$(BIN)/python mutation/named_mutants.py
