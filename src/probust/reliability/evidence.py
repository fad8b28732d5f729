"""The evidence of a claim: a finished campaign read from its results database, tied to its model.

A claim must rest on a campaign of exactly the model it is about (the sha256 recorded when the campaign
ran), and on every input the campaign planned. An unfinished campaign is refused by default; with
``missing="fail"`` its missing inputs count as failing (theta = 1), which keeps the bound sound (a missing
input can do no worse) and reports how many there were. Inputs whose result carries an estimator warning
are *undecided* and also count as failing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Literal

from .. import zoo
from ..campaign import ResultsStore
from ..errors import ConfigurationError
from ..serialisation import Serialisable

__all__ = ["CampaignEvidence", "load_campaign", "model_sha256"]

Missing = Literal["refuse", "fail"]


def model_sha256(model: str) -> str:
    """The fingerprint a campaign records for ``model``: the zoo record's sha256, or the file's."""
    if model in zoo.list_models():
        return zoo.model_info(model)["sha256"]
    path = Path(model)
    if not path.is_file():
        raise ConfigurationError(f"model {model!r} is neither a zoo model ({', '.join(zoo.list_models())}) nor a file")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass(frozen=True)
class CampaignEvidence(Serialisable):
    """A campaign's configuration and, per planned input, its failure-probability estimate.

    ``failure_probabilities[i]`` is 1 for a missing input; ``undecided[i]`` flags missing inputs and
    results that carry warnings; ``seeds`` are the per-input seeds (None where missing); ``failures`` and
    ``samples`` are a Monte Carlo campaign's per-input counts (None where missing or for other estimators).
    """

    database: str
    campaign: str
    model: str
    arch: str | None
    model_sha256: str
    data: dict[str, Any]
    perturbation: str
    estimator: str
    params: dict[str, Any]
    budget: int
    confidence: float
    seed: int
    label_source: str
    probust_version: str
    indices: tuple[int, ...]
    failure_probabilities: tuple[float, ...]
    undecided: tuple[bool, ...]
    seeds: tuple[int | None, ...]
    failures: tuple[int | None, ...]
    samples: tuple[int | None, ...]
    n_missing: int
    n_warned: int

    @property
    def n_inputs(self) -> int:
        return len(self.indices)


def load_campaign(database: str | Path, campaign: str | None = None, *, model: str | None = None,
                  missing: Missing = "refuse", accept_model_based: str | None = None) -> CampaignEvidence:
    """Read a campaign and check that it ran on exactly ``model`` (default: its own model file, unchanged).

    Results whose interval is model-based (``Result.guarantee``: splitting, SMC, importance sampling) are
    refused unless ``accept_model_based`` names their estimator: a safety claim should rest on intervals
    that hold whatever the failure landscape (Monte Carlo, sequential tests, white-box bounds).

    Raises
    ------
    ConfigurationError
        No such database or campaign, another model, (with ``missing="refuse"``) an unfinished campaign, or
        model-based results not accepted by name.
    """
    if missing not in ("refuse", "fail"):
        raise ConfigurationError(f"missing must be 'refuse' or 'fail', got {missing!r}")
    if not Path(database).is_file():
        raise ConfigurationError(f"results database {database} does not exist; run 'probust campaign run' first")
    with ResultsStore(database) as store:
        cid = store.resolve(campaign)
        identity, planned = store.config(cid), store.indices(cid)
        results = {index: result for index, _, result in store.results(cid)}
    options = identity["options"]
    recorded = identity["model_sha256"]
    if model is not None and model_sha256(model) != recorded:
        raise ConfigurationError(
            f"campaign {cid} in {database} was run on model {options['model']!r} (sha256 {recorded[:12]}...), "
            f"not on {model!r} (sha256 {model_sha256(model)[:12]}...): its results are no evidence about this "
            "model; pass the database of a campaign of this model"
        )
    if model is None and model_sha256(options["model"]) != recorded:
        raise ConfigurationError(
            f"model {options['model']!r} changed since campaign {cid} ran on it (sha256 {recorded[:12]}...): the "
            "results are evidence about the old file; restore it or run a new campaign"
        )
    absent = [i for i in planned if i not in results]
    if absent and missing == "refuse":
        raise ConfigurationError(
            f"campaign {cid} in {database} is unfinished ({len(planned) - len(absent)}/{len(planned)} inputs); "
            f"finish it with 'probust campaign resume --db {database}', or count the {len(absent)} missing inputs "
            "as failing with --missing fail"
        )
    rows = [results.get(i) for i in planned]
    model_based = sorted({r.estimator for r in rows if r is not None and r.guarantee == "model-based"})
    refused = [name for name in model_based if name != accept_model_based]
    if refused:
        raise ConfigurationError(
            f"campaign {cid} in {database} used {refused[0]!r}, whose intervals are model-based (they hold only if "
            "its chains mix and reach every failure mode); a safety claim refuses them: run the campaign with mc or "
            f"sequential, or accept them by name with --accept-model-based {refused[0]}"
        )
    data = ({"dataset": options["dataset"], "split": options["split"] or "test"} if options["dataset"]
            else {"inputs": options["inputs"]})
    return CampaignEvidence(
        database=str(database), campaign=cid, model=options["model"], arch=options["arch"],
        model_sha256=identity["model_sha256"],
        data=data, perturbation=options["perturbation"], estimator=options["estimator"],
        params=dict(rows[0].params) if rows and rows[0] is not None else {}, budget=options["budget"],
        confidence=options["confidence"], seed=options["seed"], label_source=options["label"],
        probust_version=identity["probust_version"], indices=tuple(planned),
        failure_probabilities=tuple(1.0 if r is None else r.failure_probability for r in rows),
        undecided=tuple(r is None or bool(r.warnings) or r.status == "unreliable" for r in rows),
        seeds=tuple(None if r is None else r.seed for r in rows),
        failures=tuple(_count(r, "n_failures") for r in rows), samples=tuple(_count(r, "n_samples") for r in rows),
        n_missing=len(absent), n_warned=sum(1 for r in rows if r is not None and r.warnings),
    )


def _count(result, key: str) -> int | None:
    return None if result is None or key not in result.diagnostics else int(result.diagnostics[key])
