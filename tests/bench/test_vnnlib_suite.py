"""``probust vnnlib-suite``: a VNN-COMP instance list (ACAS Xu, shipped) run by mc and bab; verdicts checked
against the published ones, counterexamples confirmed by onnxruntime, resumption, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from probust.bench.vnnlib_suite import read_instances
from probust.case_study.acasxu import data_dir
from probust.cli import main

#: One instance proved by every verifier, one violated (counterexamples are easy to sample).
ROWS = ["ACASXU_run2a_1_1_batch_2000.onnx,prop_1.vnnlib,116", "ACASXU_run2a_2_1_batch_2000.onnx,prop_2.vnnlib,116"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    for row in ROWS:
        for name in row.split(",")[:2]:
            shutil.copy(data_dir() / name, root / name)
    (root / "instances.csv").write_text("\n".join(ROWS) + "\n")
    return root


def test_verdicts_match_the_published_ones_and_resume(suite, capsys):
    args = ["vnnlib-suite", str(suite / "instances.csv"), "--estimators", "mc,[bab:max_boxes=256]", "--budget",
            "20000", "--db", str(suite / "vnn.db"), "--verdicts", str(data_dir() / "published_verdicts.csv"),
            "--json", str(suite / "out.json"), "--quiet"]
    assert main(args) == 0
    rows = json.loads((suite / "out.json").read_text())["rows"]
    by = {(r["estimator"], r["property"].rsplit("/", 1)[-1]): r for r in rows}
    assert all(r["layers"] and not r["contradiction"] for r in rows)
    # prop_1 holds on N_1,1: bab proves it; Monte Carlo cannot (an estimate of 0 proves nothing)
    assert by[("bab:max_boxes=256", "prop_1.vnnlib")]["verdict"] == "proved"
    assert by[("mc", "prop_1.vnnlib")]["verdict"] == "undecided"
    # prop_2 is violated on N_2,1: every counterexample kept is confirmed by onnxruntime
    for est in ("mc", "bab:max_boxes=256"):
        row = by[(est, "prop_2.vnnlib")]
        assert row["verdict"] == "violated" and 0 < row["confirmed"] == row["counterexamples"]
        assert row["published"] == "violated"
    first = capsys.readouterr().out
    assert main(args) == 0  # resumed: the same verdicts, nothing estimated again
    assert json.loads((suite / "out.json").read_text())["rows"] == rows
    assert "2 instances" in first


def test_instances_resolve_against_the_list_s_folder():
    rows = read_instances(data_dir() / "acasxu_instances.csv", data_dir() / "published_verdicts.csv")
    assert len(rows) == 186 and rows[0].network.is_file() and rows[0].published == "holds"


@pytest.mark.parametrize("content, flags, message", [
    ("missing.onnx,prop_1.vnnlib,1\n", [], "file not found"),
    ("", [], "has no instance"),
    (ROWS[0] + "\n", ["--estimators", "mc,,bab"], "--estimators"),
    (ROWS[0] + "\n", ["--estimators", "nope"], "unknown estimator"),
])
def test_bad_input_exits_2(suite, tmp_path, capsys, content, flags, message):
    listing = suite / f"bad-{abs(hash(content + ''.join(flags)))}.csv"
    listing.write_text(content)
    db = tmp_path / "vnn.db"
    assert main(["vnnlib-suite", str(listing), "--db", str(db), "--quiet", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_boxes_of_many_inputs_are_weighted_by_log_volume():
    """Two 784-D boxes (volumes underflow to 0 in floating point) weighted 2^784 : 1 by their log-volumes."""
    import torch

    import probust as pb
    from probust.bench.vnnlib_suite import verdict
    from probust.vnnlib import VnnlibCase

    model = torch.nn.Linear(784, 2)
    region = pb.OutputRegion.halfspace([1.0, -1.0])
    cases = [VnnlibCase((0.0,) * 784, (w,) * 784, region) for w in (0.06, 0.03)]
    results = [pb.estimate(model, c.centre().float(), c.perturbation(), failure=region, budget=200, seed=0)
               for c in cases]
    v = verdict(cases, results, [0, 0])
    assert v.estimate == pytest.approx(results[0].failure_probability)  # the smaller box weighs 2^-784
    assert v.verdict in ("undecided", "violated")
