"""A 1-out-of-2 system of two models: it fails on a demand only when both channels fail.

Eckhardt & Lee (IEEE TSE 1985) and Littlewood & Miller (IEEE TSE 1989): with theta_A(x), theta_B(x) the
channels' failure probabilities at input x ("difficulty"), and each channel seeing its own independent
perturbation of x (two sensors), the system's pfd is

    pfd_1oo2 = E_OP[theta_A(X) theta_B(X)] = pfd_A pfd_B + Cov_OP(theta_A, theta_B),

not the independence figure ``pfd_A pfd_B``: inputs hard for one model tend to be hard for the other, so
the ratio ``pfd_1oo2 / (pfd_A pfd_B)`` (the diversity figure) is usually well above 1, and it is exactly the
information a per-input campaign has and a single TSR number lacks.

The per-input product of the two campaigns' estimates is unbiased for theta_A theta_B when their noise draws
are independent (different seeds); then the same operational weighting and upper bound as a single
channel's apply (:func:`probust.reliability.operational_pfd`). Campaigns run with the same seed drew the
same perturbations: the product is then biased by the covariance of the two estimates, and
``shared_noise`` says so.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import ConfigurationError
from ..metrics import OperationalProfile
from ..serialisation import Serialisable
from .pfd import Method, OperationalPfd, operational_pfd

__all__ = ["Redundancy", "diversity_ratio", "one_out_of_two"]


@dataclasses.dataclass(frozen=True)
class Redundancy(Serialisable):
    """pfd of each channel, of the 1oo2 system (with its upper bound) and of the independence assumption."""

    pfd_a: float
    pfd_b: float
    system: OperationalPfd
    independent: float
    ratio: float
    shared_noise: bool

    @property
    def pfd(self) -> float:
        return self.system.pfd


def one_out_of_two(
    theta_a, theta_b, cells=None, profile: OperationalProfile | None = None, *, undecided_a=None, undecided_b=None,
    confidence: float = 0.95, method: Method = "bound", shared_noise: bool = False, seed: int = 0,
) -> Redundancy:
    """1oo2 pfd ``E_OP[theta_A theta_B]`` from per-input estimates of both channels on the same inputs.

    Undecided inputs of either channel count that channel as failing. ``ratio`` is ``inf`` when the
    independence figure is 0 but the system's is not, and ``nan`` when both are 0.

    Examples
    --------
    >>> a = [0.0] * 90 + [0.5] * 10          # both models fail on the same 10% of inputs
    >>> r = one_out_of_two(a, a)
    >>> round(r.pfd, 4), round(r.independent, 4), round(r.ratio, 1)
    (0.025, 0.0025, 10.0)
    """
    a, b = np.asarray(theta_a, dtype=float).ravel(), np.asarray(theta_b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ConfigurationError(f"the two channels need estimates on the same inputs, got {a.size} and {b.size}")
    flags = [np.zeros(a.size, bool) if u is None else np.asarray(u, bool).ravel() for u in (undecided_a, undecided_b)]
    channels = [operational_pfd(t, cells, profile, undecided=u, confidence=confidence, method="bound")
                for t, u in zip((a, b), flags, strict=True)]
    # undecided inputs are already failing channels: use Y = 1 for them in the product
    product = np.where(flags[0], 1.0, a) * np.where(flags[1], 1.0, b)
    system = operational_pfd(product, cells, profile, undecided=flags[0] & flags[1], confidence=confidence,
                             method=method, seed=seed)
    independent = channels[0].pfd * channels[1].pfd
    return Redundancy(channels[0].pfd, channels[1].pfd, system, independent, diversity_ratio(system.pfd, independent),
                      shared_noise)


def diversity_ratio(system: float, independent: float) -> float:
    """``system / independent``: inf when only the independence figure is 0, nan when both are."""
    return system / independent if independent > 0 else (math.inf if system > 0 else math.nan)
