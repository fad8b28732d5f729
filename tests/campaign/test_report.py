"""Campaign reports: HTML with embedded figures, CSV and JSON exports, and what a person sees (screenshot)."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import subprocess

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from probust.campaign import ResultsStore
from probust.campaign.report import tail_intervals
from probust.cli import main
from probust.result import Result


@pytest.fixture(scope="module")
def campaign_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("campaign") / "c.db"
    args = ["campaign", "run", "--model", "mnist-cnn", "--dataset", "mnist", "--indices", "0:12",
            "--perturbation", "uniform-linf:eps=0.3,clip=0:1", "--budget", "2000", "--db", str(db), "--quiet"]
    assert main(args) == 0
    return db


def test_report_writes_html_csv_and_json(campaign_db, tmp_path):
    out = {k: tmp_path / f"r.{k}" for k in ("html", "csv", "json")}
    flags = [a for kind, path in out.items() for a in (f"--{kind}", str(path))]
    assert main(["campaign", "report", "--db", str(campaign_db), *flags]) == 0
    page = out["html"].read_text()
    assert "TSR = " in page and page.count("data:image/png;base64,") >= 2 and "most fragile" in page.lower()
    rows = list(csv.DictReader(out["csv"].open()))
    assert len(rows) == 12 and {"failure_probability", "ci_low", "ci_high"} <= set(rows[0])
    data = json.loads(out["json"].read_text())
    assert len(data["results"]) == 12 and {"tsr", "CVaR_0.1", "ProbAcc", "clean_accuracy"} <= set(data["summary"])
    assert "Clean accuracy" in page and "mean failure probability of the worst 10% of inputs (CVaR)" in page
    assert "95% interval" in page and "VaR_0.1" not in page and '"options"' not in page  # no raw JSON dump
    assert oct(out["csv"].stat().st_mode & 0o044) != "0o0"  # readable by others, not mkstemp's 0600


def test_json_links_the_counterexample_arrays_and_its_results_still_load(campaign_db, tmp_path):
    path = tmp_path / "r.json"
    assert main(["campaign", "report", "--db", str(campaign_db), "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["counterexample_arrays"] == "r.counterexamples.npz"
    arrays = np.load(tmp_path / data["counterexample_arrays"], allow_pickle=False)
    with ResultsStore(campaign_db) as store:
        stored = {i: r for i, _, r in store.results(store.resolve(None))}
    linked = [e for e in data["results"] if "counterexamples" in e]
    assert linked  # eps 0.3: some inputs fail
    for entry in data["results"]:
        assert Result.from_dict(entry["result"]) == dataclasses.replace(stored[entry["index"]], counterexamples=())
        for c, original in zip(entry.get("counterexamples", []), stored[entry["index"]].counterexamples, strict=True):
            assert arrays[c["input"]].dtype == np.float32  # the model's dtype, stored without rounding
            assert np.array_equal(arrays[c["input"]], np.asarray(original.input))
            assert np.array_equal(arrays[c["latent"]], np.asarray(original.latent)) and c["score"] == original.score


def test_tail_intervals_of_all_zeros_move_the_dkw_mass_to_one():
    n, confidence = 100, 0.95
    eps = math.sqrt(math.log(2 / (1 - confidence)) / (2 * n))  # 0.1358 > alpha = 0.1
    bounds = tail_intervals(np.zeros(n), confidence)
    assert bounds["mean_failure_probability"] == pytest.approx((0.0, eps), abs=1e-12)
    assert bounds["VaR_0.1"] == (0.0, 1.0) and bounds["CVaR_0.1"] == pytest.approx((0.0, 1.0), abs=1e-12)


def test_tail_intervals_cover_the_exact_measures_of_a_beta_law():
    """Simultaneous 95% coverage of the exact mean, VaR, CVaR and EVaR of Beta(0.5, 5) by n = 60 draws."""
    law, alpha = stats.beta(0.5, 5), 0.1
    var = law.ppf(1 - alpha)
    truth = {"mean_failure_probability": law.mean(), "VaR_0.1": var,
             "CVaR_0.1": integrate.quad(law.ppf, 1 - alpha, 1)[0] / alpha,
             "EVaR_0.1": optimize.minimize_scalar(
                 lambda z: math.log(integrate.quad(lambda t: math.exp(z * t) * law.pdf(t), 0, 1)[0] / alpha) / z,
                 bounds=(1e-3, 200), method="bounded").fun}
    rng = np.random.default_rng(0)
    misses = sum(any(not lo <= truth[k] <= hi for k, (lo, hi) in tail_intervals(law.rvs(60, random_state=rng)).items())
                 for _ in range(200))
    # Coverage is >= 95% by the DKW inequality: 200 runs miss more than 20 times with probability < 0.3% at 5%.
    assert misses <= 20


def test_report_weights_by_an_operational_profile(campaign_db, tmp_path):
    page = tmp_path / "op.html"
    assert main(["campaign", "report", "--db", str(campaign_db), "--html", str(page), "--op-split", "train",
                 "--op-cells", "4"]) == 0
    text = page.read_text()
    assert "Operational profile" in text and "pfd = " in text and "unweighted mean" in text


def test_report_needs_an_output(campaign_db, capsys):
    assert main(["campaign", "report", "--db", str(campaign_db)]) == 2
    assert "--html" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make screenshot)")
def test_report_renders_in_headless_chromium(campaign_db, tmp_path):
    page, shot = tmp_path / "r.html", tmp_path / "r.png"
    assert main(["campaign", "report", "--db", str(campaign_db), "--html", str(page)]) == 0
    subprocess.run(["python", "scripts/screenshot.py", str(page), str(shot)], check=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a rendered page with figures, not a blank image
