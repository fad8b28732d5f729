"""ACAS Xu as a system: its networks, sensor noise in physical units, hazardous advisories, encounter profiles.

ACAS Xu (Julian, Kochenderfer et al., "Policy compression for aircraft collision avoidance systems", DASC 2016)
advises an unmanned ownship on a horizontal manoeuvre against one intruder. 45 networks N_{a,b}, chosen by the
previous advisory a (1..5) and the time to loss of vertical separation tau (b = 1..9), map the encounter state

    rho (ft, range), theta (rad, bearing of the intruder; > 0 on the left), psi (rad, intruder heading relative
    to the ownship's), v_own, v_int (ft/s)

normalised by the .nnet header's means and ranges, to five scores; the advisory is the *minimum* score. The
networks and the Reluplex properties ship in ``probust/zoo/acasxu`` (provenance and licence in its NOTICE.md).

What this module adds is what makes ACAS Xu a *system* in the sense of the reliability analysis:

* a **demand** is one encounter state presented to one network (one decision cycle);
* the advisory is computed from **sensor readings** ``u + sigma * z`` (z ~ N(0, I), physical units), wrapped
  (angles) and clipped to the networks' input domain as the .nnet convention does, then normalised;
* a **failure** is a *hazardous* confusion (:data:`SEVERITY`): the noise-free advisory is a turn and the noisy
  one is COC (a dropped advisory) or a turn of the opposite sense (a sense reversal). Strength changes and
  nuisance turns are recorded as minor, not failures.

The perturbation is written in whitened units: the model input is ``s = u / sigma`` and the law is the
standard ``gaussian:sigma=1``, so every estimator of the library applies; :class:`Advisor` maps s back to
physical units inside the model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..model_loading import load_model
from ..output_regions import OutputRegion

__all__ = [
    "ADVISORIES", "INPUTS", "NOMINAL_NOISE", "PROFILES", "SEVERITY", "TAUS", "Advisor", "Demands",
    "EncounterProfile", "SensorNoise", "data_dir", "hazard_region", "hazardous_advisories", "network",
    "network_name", "normalise", "severity",
]

ADVISORIES = ("COC", "weak left", "weak right", "strong left", "strong right")
#: Time to loss of vertical separation (s) of network index b = 1..9.
TAUS = (0, 1, 5, 10, 20, 40, 60, 80, 100)
INPUTS = ("rho", "theta", "psi", "v_own", "v_int")
UNITS = ("ft", "rad", "rad", "ft/s", "ft/s")
# From the .nnet headers (NOTICE.md): the networks see (u - mean) / range of u clipped to [lower, upper].
MEANS = (19791.091, 0.0, 0.0, 650.0, 600.0)
RANGES = (60261.0, 6.28318530718, 6.28318530718, 1100.0, 1200.0)
LOWER = (0.0, -math.pi, -math.pi, 100.0, 0.0)
UPPER = (60760.0, math.pi, math.pi, 1200.0, 1200.0)
_LEFT, _RIGHT = frozenset({1, 3}), frozenset({2, 4})
_ANGLES = (1, 2)


def data_dir() -> Path:
    """The folder of the shipped networks, properties and published verdicts."""
    return Path(str(resources.files("probust") / "zoo" / "acasxu"))


def network_name(prev: int, tau: int) -> str:
    """File name of N_{prev,tau} (1-based indices, as in the file names)."""
    return f"ACASXU_run2a_{prev}_{tau}_batch_2000.onnx"


@functools.cache
def network(prev: int, tau: int) -> nn.Module:
    """N_{prev,tau} as torch layers (converted from ONNX and checked against onnxruntime)."""
    return load_model(str(data_dir() / network_name(prev, tau))).eval()


def normalise(u: torch.Tensor) -> torch.Tensor:
    """Physical states (N, 5) -> the networks' inputs: angles wrapped, clipped to the domain, normalised."""
    wrapped = u.clone()
    wrapped[:, _ANGLES] = torch.atan2(torch.sin(u[:, _ANGLES]), torch.cos(u[:, _ANGLES]))
    lo, hi, mean, span = (torch.tensor(v, dtype=u.dtype, device=u.device) for v in (LOWER, UPPER, MEANS, RANGES))
    return (torch.minimum(torch.maximum(wrapped, lo), hi) - mean) / span


class Advisor(nn.Module):
    """The advisory logic on whitened sensor readings ``s = u / sigma``: the scores of every channel, side by side.

    ``forward(s)`` returns (N, 5 * channels) scores; channel c's advisory is the argmin of its five columns.
    """

    def __init__(self, channels: Sequence[nn.Module], sigma: Sequence[float]):
        super().__init__()
        self.channels = nn.ModuleList(channels)
        self.register_buffer("sigma", torch.tensor(sigma, dtype=torch.float32))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        x = normalise(s.reshape(-1, 5) * self.sigma.to(s.dtype))
        return torch.cat([net(x.reshape(-1, 1, 1, 5)).reshape(len(x), 5) for net in self.channels], 1)


def advisories(scores: torch.Tensor) -> torch.Tensor:
    """Advisory index of each row of (N, 5) scores: the minimum score."""
    return scores.argmin(1)


# -- what a failure is ----------------------------------------------------------------------------------
#: (noise-free advisory, noisy advisory, effect, class): the failure of the pfd analysis is "hazardous".
SEVERITY = (
    ("a turn", "the opposite sense (weak or strong)", "sense reversal: the aircraft turns into the manoeuvre it "
     "was told to avoid", "hazardous"),
    ("a turn", "COC", "dropped advisory: no manoeuvre while one is needed", "hazardous"),
    ("a turn", "the same sense, other strength", "strength change", "minor"),
    ("COC", "a turn", "nuisance advisory: an unneeded manoeuvre", "minor"),
)


def hazardous_advisories(reference: int) -> tuple[int, ...]:
    """Advisories that are hazardous when the noise-free advisory is ``reference`` (none for COC)."""
    if reference in _LEFT:
        return (0, *sorted(_RIGHT))
    if reference in _RIGHT:
        return (0, *sorted(_LEFT))
    return ()


def severity(reference: int, noisy: int) -> str:
    """``"none"``, ``"minor"`` or ``"hazardous"`` (:data:`SEVERITY`)."""
    if noisy == reference:
        return "none"
    return "hazardous" if noisy in hazardous_advisories(reference) else "minor"


def hazard_region(reference: int, channels: int = 1) -> OutputRegion | None:
    """Outputs of ``channels`` side-by-side channels all of whose advisories are hazardous; None for COC.

    Channel c's advisory is some h in H (the hazardous set) iff ``y_k - y_h >= 0`` for every k outside H: a
    union over h of polyhedra (ties, of probability zero under noise, count as failing); channels are joined
    with ``&`` (all fail).
    """
    hazardous = hazardous_advisories(reference)
    if not hazardous:
        return None
    safe = [k for k in range(5) if k not in hazardous]

    def row(c: int, h: int, k: int) -> list[float]:  # y_k - y_h of channel c
        return [float(i == 5 * c + k) - float(i == 5 * c + h) for i in range(5 * channels)]

    def channel(c: int) -> OutputRegion:  # some h in H scores at most every safe advisory
        return functools.reduce(operator.or_, (OutputRegion.polytope([row(c, h, k) for k in safe], [0.0] * len(safe))
                                               for h in hazardous))

    return functools.reduce(operator.and_, (channel(c) for c in range(channels)))


# -- sensor noise ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SensorNoise:
    """Independent Gaussian errors of the five readings, standard deviations in physical units."""

    sigma: tuple[float, float, float, float, float]
    source: str

    def scaled(self, factor: float) -> SensorNoise:
        return SensorNoise(tuple(s * factor for s in self.sigma), f"{self.source}, x {factor:g}")  # type: ignore[arg-type]


#: An explicit assumption, not a certified sensor model: range and bearing errors of the order reported for
#: TCAS II active surveillance (range tens of feet; bearing several degrees, its weakest measurement), the
#: intruder's heading from differentiated tracks, speeds from navigation and ADS-B velocity reports.
NOMINAL_NOISE = SensorNoise(
    sigma=(50.0, math.radians(5.0), math.radians(5.0), 5.0, 15.0),
    source="assumed: sigma_rho 50 ft, sigma_theta 5 deg, sigma_psi 5 deg, sigma_v_own 5 ft/s, sigma_v_int 15 ft/s",
)


# -- operational profiles -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Demands:
    """Encounter states (N, 5) in physical units and the index (1-based) of the network each is presented to."""

    states: np.ndarray
    prev: np.ndarray
    tau: np.ndarray

    def __len__(self) -> int:
        return len(self.states)


@dataclasses.dataclass(frozen=True)
class EncounterProfile:
    """A distribution of demands: independent laws of the five readings and of the network index.

    ``rho`` is ``("uniform" | "log-uniform", lo, hi)``; ``theta`` / ``psi`` are ``("uniform",)`` on [-pi, pi]
    or ``("normal", mean, sd)`` in radians (wrapped); speeds uniform on ``(lo, hi)``; ``prev`` and ``tau`` are
    the probabilities of the previous advisory (COC first) and of the tau index.
    """

    name: str
    description: str
    rho: tuple
    theta: tuple
    psi: tuple
    v_own: tuple[float, float]
    v_int: tuple[float, float]
    prev: tuple[float, ...]
    tau: tuple[float, ...]

    def sample(self, n: int, rng: np.random.Generator) -> Demands:
        """``n`` demands drawn from the profile with ``rng``."""
        kind, lo, hi = self.rho
        rho = np.exp(rng.uniform(math.log(lo), math.log(hi), n)) if kind == "log-uniform" else rng.uniform(lo, hi, n)
        angles = [rng.uniform(-math.pi, math.pi, n) if law[0] == "uniform" else
                  np.angle(np.exp(1j * rng.normal(law[1], law[2], n))) for law in (self.theta, self.psi)]
        states = np.stack([rho, *angles, rng.uniform(*self.v_own, n), rng.uniform(*self.v_int, n)], 1)
        return Demands(states, rng.choice(5, n, p=self.prev) + 1, rng.choice(9, n, p=self.tau) + 1)

    def table(self) -> list[tuple[str, str]]:
        """The assumptions in words, one row per variable."""
        def law(v: tuple) -> str:
            if v[0] == "normal":
                return f"normal, mean {math.degrees(v[1]):g} deg, sd {math.degrees(v[2]):g} deg (wrapped)"
            return "uniform on [-180, 180] deg" if len(v) == 1 else f"{v[0]} on [{v[1]:g}, {v[2]:g}] ft"

        prev = ", ".join(f"{a} {p:g}" for a, p in zip(ADVISORIES, self.prev, strict=True))
        tau = ", ".join(f"{t} s: {p:.3g}" for t, p in zip(TAUS, self.tau, strict=True))
        return [("rho", law(self.rho)), ("theta", law(self.theta)), ("psi", law(self.psi)),
                ("v_own", f"uniform on [{self.v_own[0]:g}, {self.v_own[1]:g}] ft/s"),
                ("v_int", f"uniform on [{self.v_int[0]:g}, {self.v_int[1]:g}] ft/s"),
                ("previous advisory", prev), ("tau", tau)]


_UNIFORM_TAU = (1 / 9,) * 9
_MOSTLY_COC = (0.9, 0.025, 0.025, 0.025, 0.025)
#: The nominal profile and two alternatives for the sensitivity of the claim. Explicit assumptions: no
#: published encounter model is shipped (the MIT Lincoln Laboratory encounter models are the reference for a
#: real assessment); they are chosen to bracket plausible operation.
PROFILES = {
    p.name: p for p in (
        EncounterProfile(
            "uas-encounters", "assumed nominal: encounters of a small UAS, close ranges weighted (log-uniform range), "
            "no preferred geometry, mostly no previous advisory",
            ("log-uniform", 500.0, 60760.0), ("uniform",), ("uniform",), (100.0, 400.0), (100.0, 800.0),
            _MOSTLY_COC, _UNIFORM_TAU),
        EncounterProfile(
            "verification-domain", "the verification convention: uniform over the whole input domain and over the "
            "45 networks", ("uniform", 0.0, 60760.0), ("uniform",), ("uniform",), (100.0, 1200.0), (0.0, 1200.0),
            (0.2,) * 5, _UNIFORM_TAU),
        EncounterProfile(
            "head-on", "assumed stress profile: intruders ahead and converging (bearing and relative heading within "
            "~15 deg of head-on), faster intruders", ("log-uniform", 500.0, 30000.0), ("normal", 0.0, math.radians(15)),
            ("normal", math.pi, math.radians(15)), (100.0, 400.0), (200.0, 800.0), _MOSTLY_COC, _UNIFORM_TAU),
    )
}
