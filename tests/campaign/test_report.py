"""Campaign reports: HTML with embedded figures, CSV and JSON exports, and what a person sees (screenshot)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from probust.cli import main


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
    assert len(data["results"]) == 12 and {"tsr", "CVaR_0.1", "ProbAcc"} <= set(data["summary"])
    assert oct(out["csv"].stat().st_mode & 0o044) != "0o0"  # readable by others, not mkstemp's 0600


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
