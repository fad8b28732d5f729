"""The ACAS Xu case study: its definitions checked against their meaning, and a reduced study end to end
(internal consistency, resumption, the report renders, the GSN validates, bad input exits 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml

from probust.bench import vnnlib_suite as suite_module
from probust.case_study import acasxu
from probust.case_study import study as study_module
from probust.case_study.run import run_study
from probust.case_study.study import Settings, instances
from probust.cli import main
from probust.reliability import validate_gsn
from probust.vnnlib import read_vnnlib

#: A study of seconds: every part runs, the intervals are wide.
TINY = Settings(demands=24, samples=100, phi_instances=3, phi_boxes=128, pair_demands=12, pair_training_states=400,
                pair_epochs=1)


def test_hazard_region_is_the_severity_table():
    """A random score vector is in the region exactly when the advisory (argmin) is hazardous, for 1 and 2 channels."""
    scores = torch.randn(4000, 10, dtype=torch.float64)
    for reference in range(5):
        advisory = [scores[:, 5 * c : 5 * c + 5].argmin(1) for c in range(2)]
        hazardous = [torch.tensor([acasxu.severity(reference, int(a)) == "hazardous" for a in adv]) for adv in advisory]
        one, two = acasxu.hazard_region(reference, 1), acasxu.hazard_region(reference, 2)
        if reference == 0:
            assert one is None and two is None and acasxu.hazardous_advisories(0) == ()
            continue
        assert torch.equal(one.score(scores[:, :5]) > 0, hazardous[0])
        assert torch.equal(two.score(scores) > 0, hazardous[0] & hazardous[1])


def test_normalisation_matches_the_properties_units():
    """phi_3's box (rho 1500..1800 ft, theta within 0.06 rad, psi >= 3.10, speeds 980..1200 / 960..1200 ft/s) in
    the networks' units is the VNNLIB box, up to the 9 digits the files carry."""
    (case,) = read_vnnlib(acasxu.data_dir() / "prop_3.vnnlib")
    physical = torch.tensor([[1500.0, -0.06, 3.10, 980.0, 960.0], [1800.0, 0.06, math.pi, 1200.0, 1200.0]],
                            dtype=torch.float64)
    x = acasxu.normalise(physical)
    assert torch.allclose(x[0], torch.tensor(case.lo, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(x[1], torch.tensor(case.hi, dtype=torch.float64), atol=1e-6)


def test_published_verdicts_and_profiles():
    verdicts = instances()
    assert len(verdicts) == 186
    assert sum(v.published == "holds" for v in verdicts) == 139
    assert sum(v.published == "violated" for v in verdicts) == 47
    rng = np.random.default_rng(0)
    for profile in acasxu.PROFILES.values():
        d = profile.sample(500, rng)
        assert d.states.shape == (500, 5) and set(np.unique(d.prev)) <= set(range(1, 6))
        assert np.all(d.states[:, 0] >= 0) and np.all(np.abs(d.states[:, 1:3]) <= math.pi)
        assert np.all((d.tau >= 1) & (d.tau <= 9))
        assert len(profile.table()) == 7


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("acasxu")
    return out, run_study(TINY, out)


def test_reduced_study_is_consistent(study):
    out, report = study
    claim = report["claim"]
    pfd = claim["pfd"]
    assert pfd["lower"] <= pfd["pfd"] <= pfd["ci"]["high"] <= 1
    assert claim["pfh"] <= claim["pfh_upper"]
    assert math.isclose(claim["pfh_upper"], pfd["ci"]["high"] * TINY.demand_rate)
    for row in report["sensitivity"]["rows"]:
        assert row["pfd_lower"] <= row["pfd"] <= row["pfd_upper"]
    for name, campaign in report["campaigns"].items():
        assert len(campaign["theta"]) == (TINY.pair_demands if name.startswith("pair") else TINY.demands)
        # a COC reference has no hazardous confusion: theta is 0 there, with no query spent
        for theta, ref, queries in zip(campaign["theta"], campaign["reference_advisory"], campaign["queries"],
                                       strict=True):
            assert (ref != 0) or (theta == 0 and queries == 0)
    pair = report["pair"]
    # the pair fails only where both channels fail on the same reading: never more often than either channel
    thetas = {k: np.array(report["campaigns"][k]["theta"]) for k in ("pair: N_1,1", "pair: second", "pair: 1oo2")}
    assert np.all(thetas["pair: 1oo2"] <= np.minimum(thetas["pair: N_1,1"], thetas["pair: second"]) + 1e-12)
    assert pair["system"]["pfd"] <= min(pair["channel_a"]["pfd"], pair["channel_b"]["pfd"]) + 1e-12
    for row in report["properties"]:
        assert 0 <= row["sound_low"] <= row["estimate"] <= row["sound_high"] <= 1
        assert row["confirmed"] <= row["counterexamples"]
        assert not row["contradiction"]
    assert report["gsn_problems"] == [] and validate_gsn(yaml.safe_load((out / "gsn.yaml").read_text())) == []
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "Headline" in page and "Formal requirements" in page
    assert json.loads((out / "report.json").read_text())["claim"] == claim
    assert (out / "reliability.html").stat().st_size > 0


def test_a_second_run_resumes_every_campaign(study, monkeypatch):
    """The campaigns are in the database: a rerun estimates nothing again and gives the same numbers."""
    out, report = study

    def no_estimate(*args, **kwargs):
        raise AssertionError("a resumed study estimated a finished demand or property again")

    monkeypatch.setattr(study_module, "estimate", no_estimate)
    monkeypatch.setattr(suite_module, "estimate", no_estimate)
    again = run_study(TINY, out)
    for name, campaign in report["campaigns"].items():
        assert again["campaigns"][name]["theta"] == campaign["theta"]
        assert again["campaigns"][name]["campaign"] == campaign["campaign"]
    assert again["claim"] == report["claim"]


@pytest.mark.parametrize("flags, message", [
    (["--target-pfh", "2"], "--target-pfh must be in (0, 1)"),
    (["--demands", "0"], "--demands must be >= 2"),
    (["--confidence", "1.5"], "confidence"),
    (["--encounters-per-hour", "-1"], "--encounters-per-hour must be > 0"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, flags, message):
    out = tmp_path / "study"
    assert main(["case-study", "acasxu", "--out", str(out), "--quick", "--quiet", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
