"""The product laws that bab partitions: uniform, standard normal and truncated normal coordinates.

bab splits a box of partition coordinates t (one per varying input coordinate, or per latent parameter) whose
coordinates are independent. What it needs from the law is the probability of a sub-box and exact draws inside
one; both factor over the coordinates:

* uniform on [0, 1]: the mass of [a, b] is b - a (products of halvings: dyadic, hence exact) and a draw is
  a + (b - a) u;
* standard normal (``Gaussian``): the mass of [a, b] is Phi(b) - Phi(a), written on the lower tail of the side
  it lies on, Phi(b) (1 - exp(log Phi(a) - log Phi(b))) for b <= 0 (``log_ndtr`` and ``expm1``: relative
  precision ~1e-15 however deep the tail, where ``ndtr(b) - ndtr(a)`` would cancel), and a draw is the inverse
  CDF of a uniform, t = Phi^-1(Phi(a) + u (Phi(b) - Phi(a))), on the same side (exact in law). The support is
  unbounded: the partition covers [-c, c]^D with c = -Phi^-1(tail / 2D), whose complement has mass
  delta = 1 - (1 - 2 Phi(-c))^D <= ``tail``; bab counts delta as undecided (sound bound and interval);
* normal truncated to [-a, a] (``TruncatedGaussian`` with p = inf): the same with the masses divided by
  Phi(a) - Phi(-a) per coordinate; no tail.

Hand-written over torch's ``special.ndtr`` / ``log_ndtr`` / ``ndtri`` (scipy's functions, batched on tensors):
scipy.stats.truncnorm draws with its own generator and would break bab's counter-based random blocks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch


@dataclasses.dataclass(frozen=True)
class ProductLaw:
    """i.i.d. coordinates on the root interval ``[root_lo, root_hi]``, uniform or normal (normalised there).

    ``tail``: the law's mass outside the root box (unbounded normal only), counted as undecided by bab;
    ``unit``: the normal mass of the root interval for a truncated normal (the masses are divided by it), else 1.
    """

    kind: Literal["uniform", "normal"]
    root_lo: float = 0.0
    root_hi: float = 1.0
    tail: float = 0.0
    unit: float = 1.0

    @classmethod
    def uniform(cls) -> ProductLaw:
        return cls("uniform")

    @classmethod
    def normal(cls, dim: int, tail: float) -> ProductLaw:
        """N(0, 1)^dim on [-c, c]^dim, c such that the mass outside is at most ``tail`` (union bound)."""
        c = -float(torch.special.ndtri(torch.tensor(tail / (2 * dim), dtype=torch.float64)))
        outside = -math.expm1(dim * math.log1p(-2 * float(torch.special.ndtr(torch.tensor(-c, dtype=torch.float64)))))
        return cls("normal", -c, c, outside)

    @classmethod
    def truncated_normal(cls, a: float) -> ProductLaw:
        """N(0, 1) conditioned on [-a, a], per coordinate."""
        return cls("normal", -a, a, unit=float(_normal_mass(*torch.tensor([[-a], [a]], dtype=torch.float64))))

    def mass(self, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """The probability of each box ``[lo, hi]`` (N, D), float64."""
        if self.kind == "uniform":
            return (hi - lo).prod(1)
        return (_normal_mass(lo, hi) / self.unit).prod(1)

    def draw(self, lo: torch.Tensor, hi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Points of the boxes ``[lo, hi]`` from the law conditioned on each, by the inverse CDF of ``u`` ~ U(0, 1)."""
        if self.kind == "uniform":
            return lo + (hi - lo) * u
        upper = lo >= 0  # boxes in the upper half: drawn on the mirrored lower tail, -t in [-hi, -lo]
        a, b = torch.where(upper, -hi, lo), torch.where(upper, -lo, hi)
        t = torch.special.ndtri(torch.special.ndtr(a) + u * _normal_mass(a, b))
        t = torch.minimum(torch.maximum(t, a), b)  # rounding of ndtri at the ends
        return torch.where(upper, -t, t)


def _normal_mass(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Phi(b) - Phi(a) elementwise, to relative precision ~1e-15 in both tails (module docstring)."""
    upper = a >= 0
    lo, hi = torch.where(upper, -b, a), torch.where(upper, -a, b)  # mirrored onto the lower side
    log_lo, log_hi = torch.special.log_ndtr(lo), torch.special.log_ndtr(hi)
    tail = log_hi.exp() * -torch.expm1(log_lo - log_hi)
    return torch.where(hi <= 0, tail, torch.special.ndtr(hi) - torch.special.ndtr(lo))
