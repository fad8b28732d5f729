"""GSN export: valid by gsn2x's documented rules in every branch, numbers taken from the claim, and the validator
catches each kind of mistake gsn2x reports.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from probust import ConfigurationError
from probust import reliability as rel


def _claim(y, target, **kwargs):
    return rel.assess(rel.operational_pfd(y), target_pfd=target, **kwargs)


CLAIMS = {
    "supported": lambda: _claim(np.zeros(3000), 2e-3, demand_rate=1 / 8760),
    "short, CBI": lambda: _claim(np.zeros(300), 1e-3, demand_rate=10.0, prior_confidence=0.5),
    "short, classical": lambda: _claim(np.zeros(300), 1e-3),
    "refuted, with 1oo2": lambda: _claim(
        np.full(500, 0.2), 1e-3, prior_confidence=0.9, prior_bound=1e-5,
        redundancy=rel.one_out_of_two(np.full(500, 0.2), np.full(500, 0.1))),
}


@pytest.mark.parametrize("name", CLAIMS)
def test_every_branch_is_a_valid_gsn2x_argument(name):
    claim = CLAIMS[name]()
    nodes = rel.gsn_argument(claim, record_url="claim.json")
    assert rel.validate_gsn(nodes) == []
    text = rel.to_gsn_yaml(nodes)
    parsed = yaml.safe_load(text)
    assert set(parsed) == set(nodes) and all(isinstance(v["text"], str) for v in parsed.values())
    json.dumps(nodes)  # plain data
    assert f"{claim.pfd.upper:.3g}" in nodes["G2"]["text"] and f"{claim.target_pfd:g}" in nodes["G1"]["text"]
    undeveloped = {k for k, v in nodes.items() if v.get("undeveloped")}
    assert ("G3" in undeveloped) == (not claim.supported)  # what remains to do is marked, not hidden
    if claim.refuted:
        assert "contradicts" in nodes["G2"]["text"]
    if claim.demonstration.cbi is not None and not claim.refuted:
        assert f"{claim.demonstration.cbi.demands_needed:,}" in nodes["G3"]["text"]
    if claim.redundancy is not None:
        assert f"{claim.redundancy.ratio:.3g}" in nodes["G4"]["text"]


BROKEN = {
    "V01": {"G1": {"text": "g", "supportedBy": ["X1"]}, "X1": {"text": "x"}},
    "V02": {"G1": {"text": "g"}},
    "V03": {"G1": {"text": "g", "supportedBy": ["Sn1"], "undeveloped": True}, "Sn1": {"text": "s"}},
    "V04": {"G1": {"text": "g", "supportedBy": ["C1"]}, "C1": {"text": "c"}},
    "V05": {"G1": {"text": "g", "supportedBy": ["Sn1", "Sn1"]}, "Sn1": {"text": "s"}},
    "V06": {"G1": {"text": "g", "supportedBy": ["G1", "Sn1"]}, "Sn1": {"text": "s"}},
    "C01": {"G1": {"text": "g", "undeveloped": True}, "G2": {"text": "h", "undeveloped": True}},
    "C03": {"G1": {"text": "g", "supportedBy": ["Sn9"]}},
    "C04": {"G0": {"text": "r", "supportedBy": ["G1"]}, "G1": {"text": "g", "supportedBy": ["S1"]},
            "S1": {"text": "s", "supportedBy": ["G1"]}},
}


@pytest.mark.parametrize("code", BROKEN)
def test_validator_reports_what_gsn2x_reports(code):
    problems = rel.validate_gsn(BROKEN[code])
    assert any(code in p for p in problems), problems
    with pytest.raises(ConfigurationError, match="invalid GSN"):
        rel.to_gsn_yaml(BROKEN[code])
