"""``probust reliability`` end to end on real (small) campaigns, and every bad input the issue lists: a clear error,
exit code 2, nothing written.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import numpy as np
import pytest
import yaml

import probust as pb
from probust import reliability as rel
from probust.cli import main

TASK = ["--model", "digits-mlp", "--dataset", "digits", "--indices", "0:60",
        "--perturbation", "uniform-linf:eps=0.25,clip=0:1", "--budget", "400", "--quiet"]


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    """Campaigns a and b (seeds 0 and 1), and a copy of a whose stored perturbation was edited."""
    root = tmp_path_factory.mktemp("reliability")
    paths = {name: root / f"{name}.db" for name in ("a", "b", "other-perturbation")}
    for name, seed in (("a", "0"), ("b", "1")):
        assert main(["campaign", "run", *TASK, "--seed", seed, "--db", str(paths[name])]) == 0
    shutil.copy(paths["a"], paths["other-perturbation"])
    with sqlite3.connect(paths["other-perturbation"]) as con:
        (config,) = con.execute("SELECT config FROM campaigns").fetchone()
        con.execute("UPDATE campaigns SET config = ?", (config.replace("eps=0.25", "eps=0.2"),))
    return paths


def _outputs(tmp_path):
    out = {k: tmp_path / f"claim.{ext}" for k, ext in (("html", "html"), ("json", "json"), ("gsn", "yaml"))}
    return out, [a for kind, path in out.items() for a in (f"--{kind}", str(path))]


def test_the_whole_claim_from_a_campaign(dbs, tmp_path, capsys):
    out, flags = _outputs(tmp_path)
    args = ["reliability", "--db", str(dbs["a"]), "--op-split", "train", "--op-cells", "3", "--demand-rate", "10/h",
            "--target-pfd", "1e-2", "--confidence", "0.95", "--prior-perfection", "0.5", "--redundant-db",
            str(dbs["b"]), *flags]
    assert main(args) == 0
    printed = capsys.readouterr().out
    data = json.loads(out["json"].read_text())
    claim = data["claim"]
    pfd = claim["pfd"]
    assert pfd["ci"]["sided"] == "upper" and pfd["lower"] <= pfd["pfd"] <= pfd["ci"]["high"]
    assert pfd["n_operational"] == 1079 and len(pfd["cells"]) == 3  # 3/4 of digits' 1,438 training images count
    assert claim["pfh_upper"] == pytest.approx(10 * pfd["ci"]["high"]) and claim["mode"] == "high-demand"
    assert claim["sil"]["value"] == claim["pfh_upper"]  # the band of the upper bound, not of the estimate
    assert claim["demonstration"]["cbi"]["demands_needed"] == rel.cbi_demands_needed(1e-2, 0.95, 0.5)
    assert claim["redundancy"]["shared_noise"] is False and claim["redundancy"]["system"]["pfd"] <= pfd["pfd"]
    assert claim["evidence"]["model_sha256"] == rel.model_sha256("digits-mlp")
    assert yaml.safe_load(out["gsn"].read_text()) == data["gsn"] and rel.validate_gsn(data["gsn"]) == []
    page = out["html"].read_text()
    assert page.count("data:image/png;base64,") == 3 and "Assurance case (GSN)" in page
    assert "sum_c" not in page and "E_OP" not in page and "pfd if the two failed independently" in page  # plain words
    assert "SIL band of the upper bound" in printed and "1oo2 with digits-mlp" in printed


def test_voting_from_the_campaign_counts(dbs, tmp_path, capsys):
    out = tmp_path / "claim.json"
    args = ["reliability", "--db", str(dbs["a"]), "--target-pfd", "1e-2", "--voting", "2oo3", "--json", str(out),
            "--html", str(tmp_path / "claim.html")]
    assert main(args) == 0
    assert "2oo3 of the model" in capsys.readouterr().out and "2oo3 voting" in (tmp_path / "claim.html").read_text()
    claim = json.loads(out.read_text())["claim"]
    ev = rel.load_campaign(dbs["a"])
    expected = rel.k_out_of_n(ev.failures, ev.samples, 2, 3, undecided=ev.undecided)
    assert claim["voting"]["system"]["pfd"] == pytest.approx(expected.pfd, rel=1e-12)
    assert claim["voting"]["system"]["ci"]["high"] == pytest.approx(expected.system.upper, rel=1e-12)
    assert expected.pfd <= claim["pfd"]["pfd"]  # a majority of three fails less often than one copy


def test_without_a_profile_the_inputs_are_the_demands(dbs, tmp_path):
    out = tmp_path / "c.json"
    assert main(["reliability", "--db", str(dbs["a"]), "--target-pfd", "0.05", "--json", str(out)]) == 0
    claim = json.loads(out.read_text())["claim"]
    assert claim["pfd"]["n_operational"] is None and claim["mode"] == "low-demand" and claim["pfh"] is None


def test_posterior_method_with_operational_inputs_from_a_file(dbs, tmp_path):
    operational = tmp_path / "op.npy"
    np.save(operational, pb.zoo.load_dataset("digits", split="train").x[:400].numpy())
    out = tmp_path / "c.json"
    assert main(["reliability", "--db", str(dbs["a"]), "--op-inputs", str(operational), "--op-cells", "2",
                 "--method", "posterior", "--target-pfd", "0.05", "--json", str(out)]) == 0
    claim = json.loads(out.read_text())["claim"]
    assert claim["pfd"]["method"] == "posterior" and claim["alternative"]["method"] == "bound"
    assert claim["pfd"]["n_operational"] == 300 and "inputs in" in claim["assumptions"][0]


def test_same_seed_campaigns_are_flagged(dbs, tmp_path):
    other = tmp_path / "other.db"
    shutil.copy(dbs["a"], other)
    out = tmp_path / "c.json"
    assert main(["reliability", "--db", str(dbs["a"]), "--target-pfd", "0.05", "--redundant-db", str(other),
                 "--json", str(out)]) == 0
    claim = json.loads(out.read_text())["claim"]
    assert claim["redundancy"]["shared_noise"] is True and any("same perturbations" in c for c in claim["caveats"])


def _unfinished(dbs, tmp_path):
    db = tmp_path / "unfinished.db"
    shutil.copy(dbs["a"], db)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM results WHERE input_index >= 50")
    return db


BAD = {
    "another model": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--model", "mnist-mlp", "--target-pfd", "0.01"],
                      "was run on model 'digits-mlp'"),
    "unfinished campaign": (lambda dbs, tmp: ["--db", str(_unfinished(dbs, tmp)), "--target-pfd", "0.01"],
                            "unfinished (50/60 inputs)"),
    "target 0": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0"], "probability in (0, 1)"),
    "target 1": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "1"], "probability in (0, 1)"),
    "target 1.5": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "1.5"], "probability in (0, 1)"),
    "prior confidence 1": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01", "--prior-perfection",
                                             "1"], "prior confidence of 1"),
    "prior bound above target": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01",
                                                   "--prior-confidence", "0.5", "--prior-bound", "0.02"], "below the"),
    "other inputs for 1oo2": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01", "--redundant-db",
                                                str(dbs["other-perturbation"])], "differ in perturbation"),
    "profile from the campaign's split": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01",
                                                            "--op-split", "test"], "own split"),
    "bad rate": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01", "--demand-rate", "often"],
                 "cannot read the rate"),
    "missing database": (lambda dbs, tmp: ["--db", str(tmp / "none.db"), "--target-pfd", "0.01"], "does not exist"),
    "bad voting": (lambda dbs, tmp: ["--db", str(dbs["a"]), "--target-pfd", "0.01", "--voting", "3oo2"], "1 <= K <= N"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_a_clear_error_and_writes_nothing(case, dbs, tmp_path, capsys):
    make_args, message = BAD[case]
    out, flags = _outputs(tmp_path)
    assert main(["reliability", *make_args(dbs, tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not any(p.exists() for p in out.values())


def test_an_unfinished_campaign_can_count_missing_inputs_as_failing(dbs, tmp_path):
    out = tmp_path / "c.json"
    assert main(["reliability", "--db", str(_unfinished(dbs, tmp_path)), "--target-pfd", "0.05", "--missing", "fail",
                 "--json", str(out)]) == 0
    claim = json.loads(out.read_text())["claim"]
    assert claim["evidence"]["n_missing"] == 10 and claim["pfd"]["n_undecided"] >= 10
    assert claim["pfd"]["pfd"] >= 10 / 60 and any("never evaluated" in c for c in claim["caveats"])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make screenshot)")
def test_report_renders_in_headless_chromium(dbs, tmp_path):
    page, shot = tmp_path / "claim.html", tmp_path / "claim.png"
    assert main(["reliability", "--db", str(dbs["a"]), "--op-split", "train", "--op-cells", "3", "--target-pfd",
                 "0.01", "--prior-perfection", "0.9", "--redundant-db", str(dbs["b"]), "--html", str(page)]) == 0
    subprocess.run(["python", "scripts/screenshot.py", str(page), str(shot)], check=True, timeout=120)
    assert shot.stat().st_size > 20_000


def test_model_based_intervals_are_refused_unless_accepted_by_name(tmp_path, capsys):
    db = tmp_path / "amls.db"
    task = [a if a != "0:60" else "0:4" for a in TASK]
    assert main(["campaign", "run", *task, "--estimator", "amls", "--seed", "0", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["reliability", "--db", str(db), "--target-pfd", "0.05"]) == 2
    err = capsys.readouterr().err
    assert "model-based" in err and "--accept-model-based amls" in err and err.count("\n") == 1
    out = tmp_path / "c.json"
    assert main(["reliability", "--db", str(db), "--target-pfd", "0.05", "--accept-model-based", "amls",
                 "--json", str(out)]) == 0
