"""The quick PR-Bench run, end to end, as CI runs it (about a minute on 2 cores).

It checks what must hold for any correct estimator, whatever its accuracy: every cell of every registered
estimator is stored exactly once, nothing crashes (``error`` cells), and **no sound bound is violated**: a
``deterministic`` bound below the gold's lower end is a bug with certainty for computed gold values, and for
the Monte Carlo zoo case it would be significant at 99.9%. Accuracy and coverage are reported in the
leaderboard, not asserted here: 12 cells per estimator cannot resolve coverage (the exact 95% interval of 11
covered out of 12 is [0.62, 1.00]).
"""

from __future__ import annotations

import time

import pytest

from probust import cli
from probust.bench.cases import select_cases
from probust.bench.leaderboard import load
from probust.bench.protocol import QUICK
from probust.bench.scoring import summarize
from probust.bench.store import BenchStore
from probust.estimators import ESTIMATORS


@pytest.mark.slow
def test_quick_bench_runs_every_estimator_and_no_bound_is_violated(tmp_path, capsys):
    db = tmp_path / "quick.db"
    start = time.perf_counter()
    assert cli.main(["bench", "run", "--quick", "--db", str(db), "--quiet"]) == 0
    seconds = time.perf_counter() - start
    assert "PR-Bench leaderboard" in capsys.readouterr().out
    with BenchStore(db) as store:
        _, config, cells = load(store)
        expected = len(select_cases(quick=True)) * len(ESTIMATORS.ready()) * QUICK.repeats
        assert len(store.cells()) == len(cells) == expected
    rows = {r.estimator: r for r in summarize(cells)}
    assert set(rows) == set(ESTIMATORS.ready())
    errors = [(c.case_id, c.estimator, c.message) for c in cells if c.status == "error"]
    assert not errors
    for r in rows.values():
        assert r.violations == 0, r
    assert seconds < 300  # "a few minutes" on the 2-core reference machine; ~1 minute when it is idle
