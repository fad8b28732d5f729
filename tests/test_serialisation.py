"""Every result-like object goes through JSON and back equal, and older layouts still load."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pytest

from probust import CertifyResult, ConfidenceInterval, Counterexample, DataError, Result
from probust import reliability as rel
from probust.metrics import OperationalProfile, total_statistical_robustness, weighted_pfd
from probust.metrics.lipschitz import LipschitzEstimate
from probust.serialisation import Serialisable
from probust.training import ProtocolResult, RadiusPR, TrainingRecord

CI = ConfidenceInterval(0.0, 0.1, 0.95, "clopper-pearson", "upper")
RESULT = Result(failure_probability=0.01, ci=CI, n_queries=100, seconds=0.5, estimator="mc", params={"budget": 100},
                seed=1, perturbation="uniform-linf:eps=0.1", failure="label-change", label=3,
                diagnostics={"n_failures": 1, "n_samples": 100}, warnings=("w",),
                counterexamples=(Counterexample(((0.1, 0.2),), ((0.3, 0.4),), 0.5),))
RADIUS = RadiusPR(0.03, 0.9, 0.85, 0.95, 10, {"0.2": 1.0}, {"0.2": 0.9})
PROTOCOL = ProtocolResult(0.98, (RADIUS, dataclasses.replace(RADIUS, eps=0.08)), 0.5, 0.4, "pgd-50", 0.99, 0.91,
                          0.01, 0.01, 100, 10, 10, 100, 0.95, 0.1, 12.0, {"cpu": "x"})
RECORD = TrainingRecord("erm", {}, 0.1, "uniform-linf:eps=0.1", 2, 64, 1e-3, "adam", 0, "mnist", "train", 100,
                        "abc", (1.0, 0.5), (0.5, 0.8), 3.0, {"cpu": "x"}, "0.1", arch="mlp")
EVIDENCE = rel.CampaignEvidence("db", "c1", "m", None, "sha", {"dataset": "mnist", "split": "test"},
                                "uniform-linf:eps=0.1", "mc", {}, 100, 0.95, 0, "true", "0.1", (0, 1, 2),
                                (0.0, 0.01, 0.0), (False, True, False), (1, 2, None), (0, 1, None), (100, 100, None),
                                0, 1)


def _claim() -> rel.ReliabilityClaim:
    y = np.array([0.0, 0.01, 0.0] * 100)
    return rel.assess(rel.operational_pfd(y), target_pfd=1e-3, demand_rate=10.0, prior_confidence=0.5,
                      alternative=rel.operational_pfd(y, method="posterior", n_draws=50),
                      redundancy=rel.one_out_of_two(y, y / 2),
                      voting=rel.k_out_of_n(np.round(y * 100), np.full(y.size, 100), 2, 3), evidence=EVIDENCE)


OBJECTS = {
    "Result": lambda: RESULT,
    "CertifyResult": lambda: CertifyResult(**{f.name: getattr(RESULT, f.name) for f in dataclasses.fields(RESULT)},
                                           decision="robust", max_failure=0.1),
    # the claim holds OperationalPfd, Cell, Band, Demonstration, ConservativeClaim, Redundancy and Voting
    "ReliabilityClaim": _claim,
    "CampaignEvidence": lambda: EVIDENCE,
    "TrainingRecord": lambda: RECORD,
    "ProtocolResult": lambda: PROTOCOL,
    "TSREstimate": lambda: total_statistical_robustness([0.0, 0.1, 0.2]),
    "LipschitzEstimate": lambda: LipschitzEstimate(0.9, CI, 2.0, 100, {"q0.5": 1.0, "max": float("inf")}),
    "PfdEstimate": lambda: weighted_pfd([0.0, 0.1, 0.3], [0, 0, 1], OperationalProfile(np.zeros((3, 0)),
                                                                                    np.array([3.0, 1.0, 1.0])),
                                        n_bootstrap=20),
}


@pytest.mark.parametrize("name", OBJECTS)
def test_every_result_like_object_round_trips(name):
    obj = OBJECTS[name]()
    data = obj.to_dict()
    assert data["kind"] == name and data["schema_version"] == type(obj).schema_version
    assert type(obj).from_dict(data) == obj
    assert type(obj).from_json(obj.to_json()) == obj
    assert json.loads(obj.to_json(allow_nan=False)) == data  # plain JSON: no NaN/Infinity tokens


def test_the_nested_records_are_rebuilt_and_tagged():
    claim = _claim()
    back = rel.ReliabilityClaim.from_dict(json.loads(claim.to_json()))
    assert isinstance(back.pfd.cells[0], rel.Cell) and isinstance(back.demonstration.cbi, rel.ConservativeClaim)
    assert claim.to_dict()["pfd"]["kind"] == "OperationalPfd"
    assert isinstance(PROTOCOL.from_dict(PROTOCOL.to_dict()).pr[0], RadiusPR)


def test_a_stored_kind_picks_the_subclass_and_a_foreign_or_newer_one_is_refused():
    certify = OBJECTS["CertifyResult"]()
    assert Result.from_dict(certify.to_dict()) == certify
    with pytest.raises(DataError, match="not a TrainingRecord"):
        TrainingRecord.from_dict(PROTOCOL.to_dict())
    with pytest.raises(DataError, match="upgrade probust"):
        Result.from_dict({**RESULT.to_dict(), "schema_version": Result.schema_version + 1})


def test_result_json_keeps_its_layout():
    data = RESULT.to_dict()
    assert list(data)[-2:] == ["schema_version", "kind"] and "kind" not in data["ci"]
    assert data["counterexamples"] == [{"latent": [[0.1, 0.2]], "input": [[0.3, 0.4]], "score": 0.5}]


def test_the_old_layouts_still_load():
    """The training stores hold plain ``dataclasses.asdict`` dictionaries (no kind, no version); Result version 2
    had no guarantee."""
    assert TrainingRecord.from_dict(json.loads(json.dumps(dataclasses.asdict(RECORD)))) == RECORD
    assert ProtocolResult.from_dict(json.loads(json.dumps(dataclasses.asdict(PROTOCOL)))) == PROTOCOL
    old = {k: v for k, v in RESULT.to_dict().items() if k != "guarantee"} | {"schema_version": 2, "estimator": "amls"}
    assert Result.from_dict(old).guarantee == "model-based"


@dataclasses.dataclass(frozen=True)
class _Weights(Serialisable):
    """A record that renamed ``w`` to ``weights`` in its layout 2."""

    schema_version: ClassVar[int] = 2
    weights: Mapping[str, float]

    @classmethod
    def _migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        return {"weights": data["w"]} if version < 2 else data


def test_the_migration_hook_reads_an_older_layout_and_mappings_come_back_read_only():
    back = _Weights.from_dict({"w": {"a": "inf"}})
    assert back == _Weights({"a": float("inf")}) and isinstance(back.weights, MappingProxyType)
    assert _Weights.from_dict(back.to_dict()) == back
