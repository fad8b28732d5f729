"""``probust bench training --quick`` (the CI run), resuming, and the leaderboard files."""

from __future__ import annotations

import dataclasses
import sqlite3

from probust.cli import main
from probust.training import bench as tb


def test_quick_bench_resumes_and_writes_the_leaderboard(tmp_path, capsys):
    db = tmp_path / "t.db"
    quick = dataclasses.replace(tb.QUICK, n_pr=20, n_ar=20)
    with tb.TrainingStore(db) as store:  # a run killed after two cells, then the full quick run
        _, first = tb.run_training_bench(store, dataclasses.replace(quick, methods=("erm", "mix-at")))
    assert first == 2
    assert main(["bench", "training", "--quick", "--n-pr", "20", "--n-ar", "20", "--db", str(db), "--quiet"]) == 0
    assert "6 cells computed" in capsys.readouterr().out
    assert main(["bench", "training", "--quick", "--n-pr", "20", "--n-ar", "20", "--db", str(db), "--quiet"]) == 0
    assert "0 cells computed" in capsys.readouterr().out
    rows = sqlite3.connect(db).execute("SELECT method, status FROM training_cells").fetchall()
    assert sorted(rows) == sorted((m, "ok") for m in tb.QUICK.methods)
    md, page = tmp_path / "b.md", tmp_path / "b.html"
    assert main(["bench", "training-leaderboard", "--db", str(db), "--markdown", str(md), "--html", str(page)]) == 0
    out = capsys.readouterr().out  # a pipe: the 20-column table is printed whole, not cut at 160 columns
    assert "cert. ProbAcc(0.05) %" in out and "…" not in out
    text = md.read_text()
    assert "| at-pr |" in text and "| mix-at |" in text and "PR@0.1 % [CI]" in text
    assert page.read_text().startswith("<!doctype html>") and "data:image/png;base64," in page.read_text()


def test_shards_split_the_cells_and_balance_at_pr():
    cells = tb.plan(tb.FULL)
    owners = tb.shards(cells, 2)
    assert sorted(set(owners)) == [0, 1] and len(cells) == 24
    at_pr = [o for c, o in zip(cells, owners, strict=True) if c[1] == "at-pr"]
    assert 0 in at_pr and 1 in at_pr


def test_a_missing_database_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", "training-leaderboard", "--db", str(tmp_path / "no.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
