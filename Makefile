# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.probust-installed
# The CPU build of torch: an unpinned `torch` would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
# The exact versions the suite passes with (pip freeze of a passing `make test` on the reference machine,
# CPython 3.11, x86-64 Linux): `make install` and `make test` install these; `pip install probust` keeps the
# ranges of pyproject.toml. `make install CONSTRAINTS=` installs without the pins.
CONSTRAINTS ?= constraints.txt
PIP_C  := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# Test workers (pytest-xdist; each gets an equal share of the CPUs for torch, see tests/conftest.py).
JOBS   ?= auto
PYTEST := $(PY) -m pytest -q -n $(JOBS) --dist worksteal

.PHONY: install data demo test test-portability portability-generic portability-avx2 test-full bench pr-bench pr-bench-quick lint clean screenshot

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(PIP_C) "$(TORCH)"
	$(PY) -m pip install -q $(PIP_C) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) data

# Fashion-MNIST for the zoo (Debian's dataset-fashion-mnist, docs/training.md) and the word lists of the
# word-language text model (wamerican wfrench wngerman wspanish, src/probust/zoo/wordlang.py), best effort as
# .ci/run installs chromium: without them (no apt, no root) the tests that need them skip and say why.
DEB_DATA := dataset-fashion-mnist wamerican wfrench wngerman wspanish
data:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz -a -f /usr/share/dict/spanish \
		-a -f /usr/share/dict/ngerman -a -f /usr/share/dict/french -a -f /usr/share/dict/american-english || \
		{ apt-get update -qq && apt-get install -y -qq $(DEB_DATA); } >/dev/null 2>&1 || true

demo: install
	$(VENV)/bin/probust evaluate --model mnist-cnn --dataset mnist --indices 0:10 \
		--perturbation uniform-linf:eps=0.3,clip=0:1 --estimator mc --budget 20000 --confidence 0.99 --seed 0

# The whole suite in parallel, then the same-numbers and gold-record tests under other kernel paths.
test: install
	$(PYTEST)
	$(MAKE) --no-print-directory test-portability

# Tests marked `portability` (same seed => same numbers at any batch size; stored gold records) rerun in one
# process under kernel paths and thread counts other than the parallel run's (the CPU's best ATen and MKL
# kernels, one torch thread per worker), so that a last-bit dependence on the CPU fails on the developer's
# machine first (docs/design.md, Randomness). ATEN_CPU_CAPABILITY picks ATen's vector kernels; MKL_CBWR=COMPATIBLE
# is MKL's generic code path, whose GEMM sums in an order that depends on the batch shape, as MKL's AVX-512
# kernels do on Intel CPUs.
# The two reruns are independent single processes: they run side by side (-j2), each one's output kept together.
test-portability: install
	$(MAKE) --no-print-directory -j2 --output-sync=target portability-generic portability-avx2

portability-generic:
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=2 $(PY) -m pytest -q -m "portability and not slow"

portability-avx2:
	ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "portability and not slow"

# The statistical checks at full size (marker slow_full); `make test` runs them at the smaller size each states.
test-full: install
	$(PYTEST) -m slow_full

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
