"""Campaigns: results committed per input, SIGKILL-safe resume, identical numbers, no mixed configurations."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

import probust as pb
from probust.campaign import ResultsStore, distributed
from probust.cli import main

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TASK = ["--model", "mnist-cnn", "--dataset", "mnist", "--perturbation", "uniform-linf:eps=0.3,clip=0:1",
        "--seed", "3", "--quiet"]


def probust(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "probust.cli", *args], env=ENV, capture_output=True, text=True)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, as the CLI subprocesses (OMP_NUM_THREADS=1) and the Dask workers do."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def finished(db) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the writer has created the file but not its tables yet
        return 0


def by_index(db) -> dict[int, tuple[float, int]]:
    with ResultsStore(db) as store:
        cid = store.resolve(None)
        return {i: (r.failure_probability, r.diagnostics["n_failures"]) for i, _, r in store.results(cid)}


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path, capsys):
    db, reference = tmp_path / "killed.db", tmp_path / "reference.db"
    args = [*TASK, "--indices", "0:16", "--budget", "2000"]
    proc = subprocess.Popen([sys.executable, "-m", "probust.cli", "campaign", "run", *args, "--db", str(db)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not db.exists() or finished(db) < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = finished(db)
    assert 4 <= before < 16, "the campaign must be killed part-way for this test to mean anything"
    resumed = probust("campaign", "resume", "--db", str(db), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    capsys.readouterr()
    assert main(["campaign", "status", "--db", str(db), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["total"] == status["finished"] == 16
    # The uninterrupted reference runs in this process (one torch thread, as the subprocesses): no third start-up.
    with one_torch_thread():
        assert main(["campaign", "run", *args, "--db", str(reference)]) == 0
    assert by_index(db) == by_index(reference)  # bit-identical to an uninterrupted run


def test_rerunning_a_started_campaign_points_to_resume(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    args = ["campaign", "run", *TASK, "--indices", "0:2", "--budget", "500", "--db", db]
    assert main(args) == 0
    assert main(args) == 2
    assert "probust campaign resume" in capsys.readouterr().err


def test_a_changed_model_file_cannot_continue_a_campaign(tmp_path, capsys):
    weights = tmp_path / "w.pt"
    torch.save(pb.zoo.load_model("digits-mlp").state_dict(), weights)
    db = str(tmp_path / "c.db")
    args = ["campaign", "run", "--model", str(weights), "--arch", "digits-mlp", "--dataset", "digits",
            "--indices", "0:3", "--perturbation", "uniform-linf:eps=0.2", "--budget", "300", "--db", db, "--quiet"]
    assert main(args) == 0
    model = pb.zoo.load_model("digits-mlp")
    with torch.no_grad():
        model[-1].bias += 1.0
    torch.save(model.state_dict(), weights)
    assert main(["campaign", "resume", "--db", db, "--quiet"]) == 2
    assert "changed since it started" in capsys.readouterr().err


def test_status_of_a_missing_database_is_a_clear_error(tmp_path, capsys):
    assert main(["campaign", "status", "--db", str(tmp_path / "none.db")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_store_rejects_a_duplicate_result(tmp_path):
    res = pb.estimate(pb.zoo.load_model("digits-mlp"), pb.zoo.load_dataset("digits")[0][0], "uniform-linf:eps=0.1",
                      budget=100, seed=0)
    with ResultsStore(tmp_path / "s.db") as store:
        cid = store.create({"a": 1}, [0])
        store.add(cid, 0, None, res)
        with pytest.raises(sqlite3.IntegrityError):
            store.add(cid, 0, None, res)
        assert store.results(cid)[0][2] == res


def test_workers_without_dask_name_the_extra(tmp_path, capsys, monkeypatch):
    """Dask is the ``distributed`` extra: --workers without it is one line naming the extra, exit 2."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    args = ["campaign", "run", "--model", "digits-mlp", "--dataset", "digits", "--indices", "0:2",
            "--perturbation", "uniform-linf:eps=0.25,clip=0:1", "--budget", "100", "--quiet", "--workers", "2"]
    assert main([*args, "--db", str(tmp_path / "c.db")]) == 2
    err = capsys.readouterr().err
    assert "probust[distributed]" in err and len(err.strip().splitlines()) == 1


def test_results_are_identical_in_process_and_on_two_dask_workers(tmp_path):
    """The in-process default (on one torch thread, as each Dask worker) and a 2-worker local cluster."""
    args = ["campaign", "run", "--model", "digits-mlp", "--dataset", "digits", "--indices", "0:8",
            "--perturbation", "uniform-linf:eps=0.25,clip=0:1", "--budget", "2000", "--quiet"]
    here, two = tmp_path / "here.db", tmp_path / "two.db"
    with one_torch_thread():
        assert main([*args, "--db", str(here)]) == 0
    assert main([*args, "--db", str(two), "--workers", "2"]) == 0
    assert by_index(here) == by_index(two)
    assert any(p > 0 for p, _ in by_index(here).values())  # not a comparison of zeros


def test_ctrl_c_keeps_the_stored_inputs_and_resume_reuses_the_worker_count(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "c.db")
    estimate, calls = pb.api.estimate, []

    def interrupted_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return estimate(*args, **kwargs)

    monkeypatch.setattr(pb.api, "estimate", interrupted_on_second)
    run = ["campaign", "run", "--model", "digits-mlp", "--dataset", "digits", "--indices", "0:3",
           "--perturbation", "uniform-linf:eps=0.2", "--budget", "300", "--db", db, "--quiet"]
    assert main(run) == 130
    assert "1/3 inputs are stored" in capsys.readouterr().err
    with ResultsStore(db) as store:
        cid = store.resolve(None)
        assert store.execution(cid) == {"workers": None, "scheduler": None}
        store.set_execution(cid, {"workers": 2, "scheduler": None})  # as if it had run with --workers 2
    seen = []
    monkeypatch.setattr(distributed, "run_distributed",
                        lambda options, indices, workers, *rest, **kw: seen.append((indices, workers)))
    assert main(["campaign", "resume", "--db", db, "--quiet"]) == 0
    assert seen == [([1, 2], 2)]
    assert "on 2 local Dask workers, as the campaign ran" in capsys.readouterr().out
    assert main(["campaign", "resume", "--db", db, "--quiet", "--workers", "0"]) == 0  # override: in this process
    out = capsys.readouterr().out
    assert "in this process, as given" in out and "3/3 inputs finished" in out and "clean accuracy " in out


def test_the_resource_tracker_filter_is_a_valid_warning_option(monkeypatch):
    monkeypatch.setattr(sys, "warnoptions", [])
    distributed._quiet_resource_tracker()
    distributed._quiet_resource_tracker()
    assert len(sys.warnoptions) == 1
    with warnings.catch_warnings():
        warnings._setoption(sys.warnoptions[0])  # what the tracker's interpreter does with its -W option
        assert warnings.filters[0][0] == "ignore"
