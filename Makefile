# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.probust-installed
# The CPU build of torch: an unpinned `torch` would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: install demo test bench pr-bench pr-bench-quick lint clean screenshot

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/probust evaluate --model mnist-cnn --dataset mnist --indices 0:10 \
		--perturbation uniform-linf:eps=0.3,clip=0:1 --estimator mc --budget 20000 --confidence 0.99 --seed 0

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/mc_throughput.py
	$(PY) benchmarks/sequential_samples.py
	$(PY) benchmarks/interval_coverage.py

# PR-Bench (docs/pr-bench.md): the full run takes ~30 minutes on 2 cores, the quick one ~1 minute; both resume.
pr-bench: install
	mkdir -p runs
	$(VENV)/bin/probust bench run --db runs/bench.db
	$(VENV)/bin/probust bench leaderboard --db runs/bench.db --markdown runs/leaderboard.md --html runs/leaderboard.html

pr-bench-quick: install
	mkdir -p runs
	$(VENV)/bin/probust bench run --quick --db runs/bench-quick.db
	$(VENV)/bin/probust bench leaderboard --db runs/bench-quick.db --markdown runs/leaderboard-quick.md \
		--html runs/leaderboard-quick.html

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# Render a campaign report in Debian's headless Chromium and save a screenshot (out/report.png).
screenshot: install
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	mkdir -p out && rm -f out/demo.db
	$(VENV)/bin/probust campaign run --model mnist-cnn --dataset mnist --indices 0:60 \
		--perturbation uniform-linf:eps=0.3,clip=0:1 --budget 5000 --db out/demo.db --quiet
	$(VENV)/bin/probust campaign report --db out/demo.db --html out/report.html --csv out/report.csv
	$(PY) scripts/screenshot.py out/report.html out/report.png
