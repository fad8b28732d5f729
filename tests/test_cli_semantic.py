"""The CLI with semantic perturbations: evaluate, certify, a campaign and its report, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import probust as pb
from probust import _rng
from probust.cli import main

MODEL, DATASET = "digits-mlp", "digits"  # the fastest zoo pair, inputs (1, 8, 8)
ROTATION = "rotation:deg=30"
COMPOSE = "compose(rotation:deg=15;brightness:delta=0.2,clip=0:1)"


def ok(argv: list[str], capsys) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_evaluate_with_a_rotation_matches_the_api(tmp_path, capsys):
    path = tmp_path / "out.json"
    ok(["evaluate", "--model", MODEL, "--dataset", DATASET, "--indices", "0:2", "--perturbation", ROTATION,
        "--budget", "500", "--seed", "3", "--quiet", "--json", str(path)], capsys)
    report = json.loads(path.read_text())
    assert report["config"]["perturbation"] == ROTATION and len(report["results"]) == 2
    x = pb.zoo.load_dataset(DATASET).x[report["results"][0]["index"]]
    direct = pb.estimate(pb.zoo.load_model(MODEL), x, ROTATION, budget=500, seed=_rng.derive_seed(3, 0))
    assert report["results"][0]["result"]["failure_probability"] == direct.failure_probability


def test_certify_with_a_composition(tmp_path, capsys):
    path = tmp_path / "cert.json"
    ok(["certify", "--model", MODEL, "--dataset", DATASET, "--indices", "0:3", "--perturbation", COMPOSE,
        "--max-failure", "0.05", "--confidence", "0.999", "--budget", "3000", "--quiet", "--json", str(path)], capsys)
    report = json.loads(path.read_text())
    assert report["config"]["perturbation"] == COMPOSE
    assert {e["result"]["decision"] for e in report["results"]} <= {"robust", "not robust", "undecided"}


def test_campaign_and_its_report_with_a_semantic_family(tmp_path, capsys):
    db, page, data = tmp_path / "c.db", tmp_path / "r.html", tmp_path / "r.json"
    ok(["campaign", "run", "--model", MODEL, "--dataset", DATASET, "--indices", "0:6", "--perturbation",
        "gaussian-blur:sigma=1.5", "--budget", "300", "--db", str(db), "--quiet"], capsys)
    ok(["campaign", "report", "--db", str(db), "--html", str(page), "--json", str(data)], capsys)
    assert "gaussian-blur:sigma=1.5" in page.read_text() and len(json.loads(data.read_text())["results"]) == 6


def test_list_shows_the_semantic_families_and_compose(capsys):
    out = ok(["list"], capsys)
    assert "rotation:deg=15,clip=0:1" in out and "gaussian-blur:sigma=1" in out and "compose(" in out


@pytest.fixture
def vectors(tmp_path):
    x = pb.zoo.load_dataset(DATASET).x[:3]
    path = tmp_path / "flat.npz"
    np.savez(path, x=x.reshape(3, -1).numpy())  # digits-mlp flattens its input, so vectors are valid inputs
    return path


def test_a_rotation_of_vector_inputs_fails_cleanly(vectors, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(["evaluate", "--model", MODEL, "--inputs", str(vectors), "--perturbation", ROTATION,
                 "--budget", "100", "--quiet", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "rotation transforms images" in err and "(64,)" in err and "(C, H, W)" in err
    assert not list(tmp_path.glob("out.json*"))
    proc = subprocess.run([sys.executable, "-m", "probust.cli", "certify", "--model", MODEL, "--inputs", str(vectors),
                           "--perturbation", ROTATION, "--max-failure", "0.05", "--json", str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert proc.returncode == 2 and "rotation transforms images" in proc.stderr and not out.exists()


def test_a_campaign_on_vector_inputs_fails_before_creating_its_database(vectors, tmp_path, capsys):
    db = tmp_path / "c.db"
    code = main(["campaign", "run", "--model", MODEL, "--inputs", str(vectors), "--perturbation", ROTATION,
                 "--budget", "100", "--db", str(db), "--quiet"])
    assert code == 2 and "rotation transforms images" in capsys.readouterr().err and not db.exists()


@pytest.mark.parametrize("spec, message", [("rotation:deg=30,law=cauchy", "law must be one of"),
                                           ("scaling:factor=1.5", "factor < 1"),
                                           ("rotation:deg=-5", "deg must be")])
def test_out_of_range_parameters_exit_2(spec, message, tmp_path, capsys):
    code = main(["evaluate", "--model", MODEL, "--dataset", DATASET, "--perturbation", spec, "--json",
                 str(tmp_path / "o.json")])
    assert code == 2 and message in capsys.readouterr().err and not (tmp_path / "o.json").exists()
