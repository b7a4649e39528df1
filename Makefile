# Two commands do all the set-up: `make demo` (the main job) and `make test` (the suite CI runs).
# Both create .venv on first use and reinstall only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo hw-demo test lint format bench fpga15 clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	# the editable install needs only .venv's dist-info: leave the checkout as it was
	rm -rf coexplore.egg-info build
	touch $(STAMP)

# The main job: a complete co-exploration on digits-fpga (PPO, 200 candidates, ~2 min on 2
# cores), then its report. Run again, it continues (or just re-reports) the same run.
DEMO_OUT ?= runs/demo
demo: $(STAMP)
	$(VENV)/bin/coexplore search --env digits-fpga --agent ppo --episodes 200 --seed 0 \
		--out $(DEMO_OUT) $(if $(wildcard $(DEMO_OUT)/run.json),--resume)

hw-demo: $(STAMP)
	$(VENV)/bin/coexplore hw tune --net lenet5 --parts XC7Z020,XC7A50T --partition auto --tuner exhaustive

# The suite writes only into temporary directories (and no __pycache__ into the checkout).
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	PYTHONDONTWRITEBYTECODE=1 $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/bench_engine.py
	$(PY) bench/bench_tuners.py
	$(PY) bench/bench_trainer.py
	$(PY) bench/bench_env.py
	$(PY) bench/bench_pruning.py

fpga15: $(STAMP)
	$(PY) launch/fpga15_alexnet.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
