"""The ACAS Xu case study: from sensor noise to a pfd / PFH claim, formal properties and a 1oo2 alternative.

Local -> global -> system, each step one call of the library:

1. **Demands** are drawn from an encounter profile (:data:`~.acasxu.PROFILES`); each is presented to its network.
2. **Local**: per demand, the probability theta(x) of a hazardous advisory under sensor noise, by Monte Carlo
   (``mc``: Clopper-Pearson, guarantee ``exact``). Plain Monte Carlo is the estimator the pfd bound needs: the
   bound of :func:`~probust.reliability.operational_pfd` averages *unbiased* per-demand estimates, and with
   m demands it cannot go below ~3/m whatever each estimate's precision, so rare-event estimators (whose
   per-input intervals are narrower for tiny theta) would not tighten the claim. Demands whose noise-free
   advisory is COC have no hazardous confusion (theta = 0 by definition, no query). Results go to a SQLite
   results database (:class:`~probust.campaign.ResultsStore`) one demand at a time: an interrupted study
   resumes where it stopped.
3. **Global**: pfd = E_profile[theta] with a distribution-free upper bound (Chernoff-KL).
4. **System**: PFH = demand rate x pfd (the expected number of hazardous advisories per flight hour, which
   bounds the probability of one in that hour whatever the dependence between cycles), the comparison with
   a target, the SIL band, failure-free demands still needed (classical, Bayesian, CBI) via
   :func:`~probust.reliability.assess`.
5. **Formal requirements**: the Reluplex properties phi_1..phi_10 by branch and bound (``bab``: sound bounds
   on P[violation] under the uniform law on the property's box), next to the published VNN-COMP 2021 verdicts.
6. **Defence in depth**: a 1oo2 pair, N_{1,1} and a second network trained by probust on states labelled by
   it; hazard only when both channels are hazardous under the *same* noisy reading (measured jointly).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _rng
from .._version import __version__
from ..api import estimate
from ..bench.vnnlib_suite import Instance, contradicts, read_instances, run_suite, spread
from ..bounds import ElementwiseAffine
from ..campaign import ResultsStore
from ..estimators.bab import BranchAndBound
from ..intervals import ConfidenceInterval, binomial_ci
from ..perturbations import Gaussian
from ..reliability import ReliabilityClaim, assess, operational_pfd
from ..reliability.classical import demands_needed
from ..reliability.pfd import OperationalPfd
from ..reliability.redundancy import diversity_ratio
from ..reliability.thresholds import better_sil
from ..result import Result
from ..training import train
from ..vnnlib import read_vnnlib
from ..zoo import ArrayDataset
from . import acasxu
from .acasxu import Advisor, Demands, EncounterProfile, SensorNoise

__all__ = ["Settings", "Variant", "check_properties", "instances", "run_variant", "second_channel_bytes",
           "summarise_variants", "train_second_channel"]

Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the study runs; every figure of the report follows from these and the seed.

    ``encounters_per_hour`` x ``cycles_per_encounter`` is the demand rate (advisories computed per flight
    hour); ``target_pfh`` the tolerable rate of hazardous advisories (default 1e-7 per flight hour, the
    quantitative objective of a *hazardous* failure condition in AMC 25.1309 / AC 25.1309-1A: an assumption
    for this function).
    """

    demands: int = 1000
    samples: int = 1000
    profile: str = "uas-encounters"
    alternatives: tuple[str, ...] = ("verification-domain", "head-on")
    noise_factors: tuple[float, ...] = (0.5, 2.0)
    encounters_per_hour: float = 0.1
    cycles_per_encounter: int = 40
    target_pfh: float = 1e-7
    confidence: float = 0.95
    prior_confidence: float = 0.5
    phi_instances: int | None = None
    phi_boxes: int = 512
    pair_demands: int = 500
    pair_training_states: int = 20_000
    pair_epochs: int = 10
    seed: int = 0

    @property
    def demand_rate(self) -> float:
        return self.encounters_per_hour * self.cycles_per_encounter


@dataclasses.dataclass(frozen=True)
class Variant:
    """One campaign: a profile, a noise level, the channels; its per-demand results and pfd."""

    name: str
    profile: str
    noise: SensorNoise
    channels: tuple[str, ...]
    campaign: str
    results: tuple[Result, ...]
    references: tuple[int, ...]
    pfd: OperationalPfd

    @property
    def seconds(self) -> float:
        """Seconds of estimation over all demands (resumed runs included)."""
        return float(sum(r.seconds for r in self.results))

    @property
    def thetas(self) -> np.ndarray:
        return np.array([r.failure_probability for r in self.results])


def _coc_result(settings: Settings, seed: int, perturbation: str) -> Result:
    """theta = 0 exactly: with a noise-free COC no advisory is hazardous (:data:`~.acasxu.SEVERITY`)."""
    return Result(failure_probability=0.0, n_queries=0, seconds=0.0, estimator="none", params={}, seed=seed,
                  ci=ConfidenceInterval(0.0, 0.0, settings.confidence, "no hazardous advisory exists"),
                  perturbation=perturbation, failure="hazardous advisory (none: the noise-free advisory is COC)",
                  guarantee="sound")


def run_variant(
    store: ResultsStore,
    name: str,
    profile: EncounterProfile,
    noise: SensorNoise,
    settings: Settings,
    *,
    channels: Callable[[int, int], list[nn.Module]] | None = None,
    channel_names: tuple[str, ...] = ("N_{prev,tau}",),
    demands: int | None = None,
    progress: Progress | None = None,
) -> Variant:
    """Estimate theta for every demand of ``profile`` under ``noise`` (resuming a stored campaign).

    ``channels(prev, tau)`` gives the networks whose advisories must *all* be hazardous for a failure (default:
    the ACAS Xu network alone); the reference advisory is always the ACAS Xu network's at the noise-free state.
    """
    m = settings.demands if demands is None else demands
    drawn = profile.sample(m, np.random.default_rng(settings.seed))
    config = {"study": "acasxu", "variant": name, "profile": dataclasses.asdict(profile), "noise": noise.sigma,
              "channels": list(channel_names), "samples": settings.samples, "estimator": "mc",
              "confidence": settings.confidence, "seed": settings.seed, "probust": __version__}
    campaign = store.create(config, list(range(m)))
    done = store.finished(campaign)
    perturbation = Gaussian(sigma=1.0)
    references = _references(drawn)
    for i in range(m):
        if i in done:
            continue
        prev, tau = int(drawn.prev[i]), int(drawn.tau[i])
        s = torch.tensor(drawn.states[i] / np.array(noise.sigma), dtype=torch.float32)
        reference = int(references[i])
        nets = [acasxu.network(prev, tau)] if channels is None else channels(prev, tau)
        region = acasxu.hazard_region(reference, len(nets))
        seed = _rng.derive_seed(settings.seed, i)
        if region is None:
            result = _coc_result(settings, seed, perturbation.to_spec())
        else:
            result = estimate(Advisor(nets, noise.sigma).eval(), s, perturbation, failure=region, estimator="mc",
                              budget=settings.samples, confidence=settings.confidence, seed=seed)
        store.add(campaign, i, reference, result)
        if progress:
            progress(name, i + 1, m)
    rows = store.results(campaign)
    results = tuple(r for _, _, r in rows)
    pfd = operational_pfd([r.failure_probability for r in results], undecided=[bool(r.warnings) for r in results],
                          confidence=settings.confidence)
    return Variant(name, profile.name, noise, channel_names, campaign, results, tuple(int(lab) for _, lab, _ in rows),
                   pfd)


def _references(drawn: Demands) -> np.ndarray:
    """The ACAS Xu network's advisory at the noise-free state of every demand (one pass per network)."""
    x = acasxu.normalise(torch.tensor(drawn.states, dtype=torch.float32)).reshape(-1, 1, 1, 5)
    out = np.zeros(len(drawn), dtype=np.int64)
    with torch.inference_mode():
        for prev, tau in set(zip(drawn.prev.tolist(), drawn.tau.tolist(), strict=True)):
            rows = np.flatnonzero((drawn.prev == prev) & (drawn.tau == tau))
            out[rows] = acasxu.network(prev, tau)(x[rows]).reshape(len(rows), 5).argmin(1).numpy()
    return out


# -- formal requirements ------------------------------------------------------------------------------
def instances(limit: int | None = None) -> list[Instance]:
    """The 186 VNN-COMP 2021 instances with their published verdicts; ``limit``: a spread over them."""
    return spread(read_instances(acasxu.data_dir() / "acasxu_instances.csv",
                                 acasxu.data_dir() / "published_verdicts.csv"), limit)


def check_properties(settings: Settings, store: ResultsStore, demands: Demands,
                     progress: Progress | None = None) -> list[dict[str, Any]]:
    """Each instance by ``bab`` (sound bounds on P[violation], uniform law on the box) beside its published verdict.

    ``demands`` (normalised through :func:`~.acasxu.normalise`) give each box's operational mass: the share
    of demands presented to that network with a state in the box, with its Clopper-Pearson upper bound, so
    that ``P_profile[demand violates phi] <= mass_upper x sound_high``.
    """
    chosen = instances(settings.phi_instances)
    done = run_suite(chosen, BranchAndBound(max_boxes=settings.phi_boxes), store, budget=20_000,
                     confidence=settings.confidence, seed=settings.seed, source="probust/zoo/acasxu",
                     progress=None if progress is None else lambda i, n: progress("properties", i, n))
    x_all = acasxu.normalise(torch.tensor(demands.states, dtype=torch.float64)).numpy()
    rows = []
    for inst, v, _ in done:
        prev, tau = (int(t) for t in inst.network.name.split("_")[2:4])
        on_net = (demands.prev == prev) & (demands.tau == tau)
        inside = np.zeros(len(demands), bool)
        for case in read_vnnlib(inst.property):
            inside |= on_net & np.all((x_all >= np.array(case.lo)) & (x_all <= np.array(case.hi)), 1)
        mass = binomial_ci(int(inside.sum()), len(demands), settings.confidence, "clopper-pearson")
        rows.append({"network": f"N_{prev},{tau}", "property": inst.property.stem, "published": inst.published,
                     **dataclasses.asdict(v), "mass": float(inside.mean()), "mass_upper": mass.high,
                     "violation_under_profile_upper": mass.high * v.sound_high,
                     "contradiction": contradicts(inst.published, v.verdict)})
    return rows


# -- defence in depth: a second, diverse channel ------------------------------------------------------------
def train_second_channel(settings: Settings) -> tuple[nn.Module, dict[str, Any]]:
    """A network trained by probust (``erm``) on states labelled by N_{1,1}: the 1oo2 pair's second channel.

    Architecture differs from N_{1,1} (3 x 64 units against 6 x 50) and its inputs are scaled to [0, 1], so
    that the trainer's conventions hold; its scores are negated logits, so that its advisory is the minimum
    as for ACAS Xu.
    """
    rng = np.random.default_rng(settings.seed + 1)
    domain = acasxu.PROFILES["verification-domain"]
    states = dataclasses.replace(domain, prev=(1.0, 0, 0, 0, 0), tau=(1.0,) + (0.0,) * 8)
    drawn = states.sample(settings.pair_training_states, rng)
    x = acasxu.normalise(torch.tensor(drawn.states, dtype=torch.float32))
    with torch.inference_mode():
        labels = acasxu.network(1, 1)(x.reshape(-1, 1, 1, 5)).reshape(-1, 5).argmin(1)
    lower, upper = (torch.tensor(v) for v in (acasxu.LOWER, acasxu.UPPER))
    mean, span = (torch.tensor(v) for v in (acasxu.MEANS, acasxu.RANGES))
    to_unit = ElementwiseAffine(span / (upper - lower), (mean - lower) / (upper - lower))  # normalised -> [0, 1]
    torch.manual_seed(settings.seed)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64),
                        nn.ReLU(), nn.Linear(64, 5))
    data = ArrayDataset("acasxu-n11-labels", "train", to_unit(x).clamp(0, 1).reshape(-1, 1, 1, 5), labels)
    mlp, record = train(mlp, data, "erm", eps=0.01, epochs=settings.pair_epochs, seed=settings.seed)
    second = nn.Sequential(to_unit, mlp, _Negate()).eval()
    with torch.inference_mode():
        agree = float((second(x.reshape(-1, 1, 1, 5)).argmin(1) == labels).float().mean())
    return second, {"training_states": settings.pair_training_states, "epochs": settings.pair_epochs,
                    "method": "erm", "agreement_on_training_states": agree, "seconds": record.seconds}


class _Negate(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return -h


def pair(variants: dict[str, Variant]) -> dict[str, Any]:
    """The 1oo2 figures from the three N_{1,1} campaigns.

    ``system``: measured with both channels on the *same* noisy reading (they share the sensors), the pfd of
    the pair; ``independent_sensors``: E[theta_A theta_B], what the pair would achieve with a sensor set per
    channel (the same demands; per-demand product of the two single-channel estimates); ``independence``:
    E[theta_A] E[theta_B], the figure an assessor must not assume. ``diversity_ratio`` = system / independence.
    """
    a, b, both = (variants[k] for k in ("pair: N_1,1", "pair: second", "pair: 1oo2"))
    independence = a.pfd.pfd * b.pfd.pfd
    return {"channel_a": a.pfd.to_dict(), "channel_b": b.pfd.to_dict(), "system": both.pfd.to_dict(),
            "independent_sensors": float(np.mean(a.thetas * b.thetas)), "independence": independence,
            "diversity_ratio": diversity_ratio(both.pfd.pfd, independence), "demands": len(a.results)}


# -- the claim and what would change it ------------------------------------------------------------------
def claim(settings: Settings, main: Variant) -> ReliabilityClaim:
    """The claim PFH <= target at the study's demand rate, from the nominal campaign (one channel)."""
    return assess(main.pfd, target_pfd=settings.target_pfh / settings.demand_rate, demand_rate=settings.demand_rate,
                  prior_confidence=settings.prior_confidence,
                  operational_source=f"{len(main.results)} demands drawn from the profile {main.profile!r}")


def summarise_variants(settings: Settings, variants: list[Variant]) -> dict[str, Any]:
    """Sensitivity: PFH upper bound per variant, and the assumption whose range moves it most.

    Three factors: the sensor noise (nominal and its scaled versions, nominal profile), the profile (nominal
    noise), and the statistical uncertainty of the nominal campaign: its upper bound over the larger of its
    point estimate and its zero-failure floor ~3/m (the price of the distribution-free guarantee; at the floor,
    the number of demands, not the model, limits the claim).
    """
    rate = settings.demand_rate
    rows = [{"variant": v.name, "profile": v.profile, "noise": v.noise.source, "pfd": v.pfd.pfd,
             "pfd_upper": v.pfd.upper, "pfd_lower": v.pfd.lower, "pfh": v.pfd.pfd * rate,
             "pfh_upper": v.pfd.upper * rate, "demands": v.pfd.n_inputs,
             "hazardous_demands": int((v.thetas > 0).sum()), "seconds": v.seconds}
            for v in variants]

    def ratio(names: list[str]) -> float:
        values = [r["pfh_upper"] for r in rows if r["variant"] in names]
        return max(values) / min(values) if len(values) > 1 and min(values) > 0 else 1.0

    nominal = rows[0]
    factors = {
        "sensor noise": ratio([r["variant"] for r in rows if r["variant"].startswith(("nominal", "noise"))]),
        "operational profile": ratio([r["variant"] for r in rows if r["variant"].startswith(("nominal", "profile"))]),
        "statistical uncertainty (upper bound / max(estimate, zero-failure floor))":
            nominal["pfd_upper"] / max(nominal["pfd"], variants[0].pfd.floor),
    }
    return {"rows": rows, "factors": factors, "dominant": max(factors, key=factors.__getitem__)}


def next_band(settings: Settings, claim_: ReliabilityClaim) -> dict[str, Any]:
    """What would move the claim: failure-free demands for the target and for the next better SIL band."""
    out: dict[str, Any] = {"refuted": claim_.refuted, "target_pfd": claim_.target_pfd,
                           "demands_for_target": demands_needed(claim_.target_pfd, settings.confidence)}
    band = better_sil(claim_.sil)
    if band is not None:  # the band's limit on the mode's measure, as a pfd
        pfd = band.high if claim_.mode == "low-demand" else band.high / settings.demand_rate
        out.update(next_band=band.name, next_band_limit=band.high, next_band_measure=band.measure,
                   demands_for_next_band=demands_needed(pfd, settings.confidence))
    return out


def second_channel_bytes(module: nn.Module) -> bytes:
    """The second channel's state dict as ``torch.save`` bytes (loads with ``weights_only=True``)."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()
