"""Hard failure landscapes whose failure probability is known exactly.

The linear gold cases (:mod:`~probust.bench.closed_form`) have one smooth failure half-space: every rare-event
estimator is at its best there. The landscapes below keep an exact failure probability but each breaks one
assumption those estimators lean on. Throughout, ``delta = x' - x``, the reference label is class 0 (the
model's prediction at x, with a negative score there), the failure score is ``max_{j != 0} z_j - z_0``,
``Phi`` / ``Phi_bar`` are the standard normal CDF / tail, and a unit direction ``u`` (or ``u``, ``v``) is drawn
at random with ``seed`` (orthonormalised), as is the clean input ``x ~ U[0.25, 0.75]^d``. A requested ``p`` is
hit by solving one scalar (a margin, a threshold or an offset) with brentq on ``log p``; the stored
``failure_probability`` is the exact value at the solved float64 parameter, which the model holds.

* ``equal_modes`` -- two failure modes of equal mass in opposite corners of the box. Uniform L-inf noise of
  radius eps, ``w = (1, ..., 1)``, logits ``(0, w . delta - m, -w . delta - m)``. With ``w . delta = eps (2 S -
  d)``, ``S`` Irwin-Hall(d), each class fails with ``q = P[S > (d + m / eps) / 2]`` and the two events are
  disjoint, so ``p = 2 q`` and ``parts = {1: q, 2: q}``. An estimator that follows one mode reports half of p.
* ``gradient_trap`` -- a steep major mode and a shallow minor one. Gaussian noise, ``g1 = u . delta / sigma``
  and ``g2 = v . delta / sigma`` independent N(0, 1), logits ``(0, k (g1 - a), g2 - b)`` with steepness k.
  ``q_A = Phi_bar(a)`` holds ``major_share`` of ``p = q_A + q_B - q_A q_B``. The level set of a splitting
  level ``L < 0`` is ``{g1 > a + L / k} or {g2 > b + L}``: lowering the level moves B's threshold k times faster
  than A's, so below ``L* ~ (a - b) / (1 - 1 / k)`` nearly all of the level set's mass (and so of the
  particles) lies in B's branch, and above it in A's. The two branches meet only where both g1 and g2 are
  large (a negligible mass), so the particles cannot walk across: the population that climbed through B's
  branch must find A's branch -- 99% of p -- with next to no particle there. Gradients point to whichever
  logit is the larger, i.e. along v on the way up. Parts: when both fail the larger logit wins, so
  ``P[A wins] = Phi(b) q_A + int_0^inf phi(b + s) Phi_bar(a + s / k) ds`` and
  ``P[B wins] = Phi(a) q_B + int_0^inf phi(a + s) Phi_bar(b + k s) ds`` (adaptive quadrature, relative error
  ~1e-12; they sum to p).
* ``rough_1d`` -- a one-dimensional input whose failure set is a union of many thin intervals. With the
  normalised displacement ``t = delta / sigma ~ N(0, 1)`` (``kind="gaussian"``) or ``t = delta / eps ~ U(-1,
  1)`` (``kind="uniform"``), the score is ``s(t) = t - c + A sin(omega t)``. s is monotone between its critical
  points ``cos(omega t) = -1 / (A omega)``, so its roots in ``[c - A, c + 2A]`` (outside, its sign is that of
  ``t - c``) are found exactly by brentq on each monotone piece; p is the mass of the intervals where s > 0,
  in 40-digit arithmetic. The gradient ``1 + A omega cos(omega t)`` changes sign about ``A omega / pi`` times
  across the band. Offset c is solved for the requested p. Caveat for ``kind="uniform"``: plain Monte Carlo
  draws uniform latents on the grid ``m / 2^24``, so a 1-D uniform event of probability 1e-7 covers two grid
  points; only the Gaussian kind is in the default grid.
* ``comb_1d`` -- failure exactly on n teeth ``|t - c_k| < w``, ``c_k = c_0 + k spacing``, ``t = delta / sigma``,
  with the continuous piecewise linear score ``w - min_k |t - c_k|``; ``p = sum_k P[c_k - w < t < c_k + w]``.
  The default half-width ``w = 1e-5`` is narrower than a pCN step floor of 1e-4 in Gaussian coordinates, so a
  chain that leaves a tooth will not land in one by chance. (Plain Monte Carlo's float32 normals are 40-80
  ulps per tooth: their law differs from the exact one by ~1%, far inside any interval at these budgets.)
* ``plateau`` -- a flat score over most of the input law, as dead ReLUs make on ACAS Xu: ``score = relu(g -
  t0) - h`` with ``g = u . delta / sigma`` and ``Phi(t0) = plateau_mass``; every input with ``g < t0`` has the
  same score -h and zero gradient. Failure iff ``g > t0 + h``: ``p = Phi_bar(t0 + h)``. With
  ``kind="uniform"``: uniform L-inf noise, ``g = w . delta / eps = 2 S - d`` (S Irwin-Hall), ``P[g < t0] =
  plateau_mass`` and ``p = P[S > (d + t0 + h) / 2]``.
* ``thin_slab`` -- failure on a thin slab far in the tail, ``a < g < b`` with ``g = u . delta / sigma``, ``b = a
  + width_sd``, score ``min(g - a, b - g)``: ``p = Phi(b) - Phi(a)``, as a difference of erfc's in 40-digit
  arithmetic (the two tails agree in their leading digits). Levels that rise past b lose the slab, and a
  gradient step overshoots it.

``LANDSCAPES`` maps the ids of the default grid (``"<kind>/d<dim>/p<p>"``, e.g. ``"equal-modes/d20/p1e-10"``)
to their builders; :func:`landscape_grid` lists them and :func:`get_landscape` builds one (cached).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping

import mpmath
import numpy as np
import torch

from .._scipy import integrate, optimize, stats
from ..perturbations import Gaussian, Perturbation, UniformLinf
from .closed_form import irwin_hall_tail

#: Working precision (decimal digits) of the normal-interval masses: tails down to 1e-15 keep 25 digits.
_DPS = 40


@dataclasses.dataclass(frozen=True)
class Landscape:
    """A model, clean input and perturbation with the exact failure probability.

    Attributes
    ----------
    name
        Stable id, ``"<kind>/d<dim>/p<requested p>"``.
    kind
        The landscape family (``"equal-modes"``, ``"gradient-trap"``, ...).
    dim
        Number of input coordinates.
    model, x, perturbation
        What an estimator is called with (float64 model, logits of shape ``(batch, n_classes)``).
    failure_probability
        The exact failure probability of the built model (at its float64 parameters).
    parts
        Failing class -> exact probability that it is the winning class; sums to ``failure_probability``.
    """

    name: str
    kind: str
    dim: int
    model: torch.nn.Module
    x: torch.Tensor
    perturbation: Perturbation
    failure_probability: float
    parts: Mapping[int, float]


class TwoClass(torch.nn.Module):
    """Logits ``(0, s(x))`` from a score network s: class 1 wins (a failure) iff ``s(x) > 0``."""

    def __init__(self, score: torch.nn.Module) -> None:
        super().__init__()
        self.score = score

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.score(x).reshape(len(x), 1)
        return torch.cat([torch.zeros_like(s), s], dim=1)


class MinOut(torch.nn.Module):
    """The smallest feature of each row: an intersection of half-spaces when features are margins."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.min(dim=1).values


class Wiggle(torch.nn.Module):
    """``t -> t - c + A sin(omega t)`` on a batch of scalars ``(n, 1)``."""

    def __init__(self, c: float, amplitude: float, omega: float) -> None:
        super().__init__()
        self.c, self.amplitude, self.omega = c, amplitude, omega

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return t - self.c + self.amplitude * torch.sin(self.omega * t)


class Teeth(torch.nn.Module):
    """``t -> w - min_k |t - c_k|`` on a batch of scalars ``(n, 1)``: positive on the teeth ``|t - c_k| < w``."""

    def __init__(self, centres: np.ndarray, width: float) -> None:
        super().__init__()
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float64))
        self.width = width

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.width - (t - self.centres).abs().min(dim=1).values


# -- helpers -------------------------------------------------------------------------------------------
def landscape_name(kind: str, dim: int, p: float) -> str:
    """``"<kind>/d<dim>/p<p>"`` with powers of ten written ``1e-k`` (``equal-modes/d20/p1e-10``)."""
    exponent = round(math.log10(p))
    tag = f"1e{exponent}" if math.isclose(p, 10.0**exponent, rel_tol=1e-9) else f"{p:.3g}"
    return f"{kind}/d{dim}/p{tag}"


def _input_and_directions(dim: int, k: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """The clean input ``U[0.25, 0.75]^dim`` and k orthonormal directions (columns), both from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.25, 0.75, dim)
    q, _ = np.linalg.qr(rng.standard_normal((dim, k)))
    return torch.tensor(x), q


def _linear(weight: np.ndarray, bias: np.ndarray) -> torch.nn.Linear:
    """An ``nn.Linear`` (float64) with the given weight ``(out, in)`` and bias ``(out,)``."""
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float64))
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float64))
    return layer


def _projection(u: np.ndarray, x: torch.Tensor, scale: float, offset: float) -> torch.nn.Linear:
    """``x' -> u . (x' - x) / scale - offset`` as one linear layer (one output)."""
    ux = float(u @ x.numpy())
    return _linear((u / scale)[None, :], np.array([-ux / scale - offset]))


def _solve(mass: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The parameter in ``[lo, hi]`` where a monotone ``mass`` equals ``target`` (brentq on the log)."""
    log_target = math.log(target)

    def excess(v: float) -> float:
        return math.log(max(mass(v), 1e-300)) - log_target

    return optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)


def normal_mass(intervals: list[tuple[float, float]] | list[tuple[mpmath.mpf, mpmath.mpf]]) -> float:
    """``sum_i P[lo_i < G < hi_i]`` for ``G ~ N(0, 1)`` (``hi = inf`` allowed), as erfc differences in 40 digits."""
    with mpmath.workdps(_DPS):
        root2 = mpmath.sqrt(2)
        return float(mpmath.fsum(mpmath.erfc(mpmath.mpf(lo) / root2) - mpmath.erfc(mpmath.mpf(hi) / root2)
                                 for lo, hi in intervals) / 2)


def _check_target(p: float) -> float:
    if not 0 < p < 0.5:
        raise ValueError(f"target failure probability must lie in (0, 0.5), got {p!r}")
    return float(p)


# -- a. two equal modes -----------------------------------------------------------------------------------
def equal_modes(dim: int = 20, p: float = 1e-4, eps: float = 0.1, seed: int = 0) -> Landscape:
    """Two failure modes of equal mass in opposite corners of the L-inf box: ``p = 2 P[S > (d + m / eps) / 2]``.

    Logits ``(0, w . delta - m, -w . delta - m)``, ``w = (1, ..., 1)``, under ``UniformLinf(eps)``; S is
    Irwin-Hall(d). The margin m is solved for the requested p; ``parts = {1: p / 2, 2: p / 2}``.
    """
    p = _check_target(p)
    x, _ = _input_and_directions(dim, 0, seed)
    w = np.ones(dim)

    def tail(m: float) -> float:
        return irwin_hall_tail((dim + m / eps) / 2, dim)

    m = _solve(lambda v: 2 * tail(v), p, 0.0, dim * eps)
    wx = float(w @ x.numpy())
    model = _linear(np.stack([np.zeros(dim), w, -w]), np.array([0.0, -wx - m, wx - m])).eval()
    q = tail(m)
    return Landscape(landscape_name("equal-modes", dim, p), "equal-modes", dim, model, x, UniformLinf(eps=eps),
                     2 * q, {1: q, 2: q})


# -- b. gradient trap -------------------------------------------------------------------------------------
def trap_parts(a: float, b: float, steepness: float) -> dict[int, float]:
    """Exact probability that A (class 1) or B (class 2) wins: the larger of ``k (g1 - a)``, ``g2 - b``, if > 0."""
    k = steepness
    norm = stats.norm

    def quad(f: Callable[[float], float]) -> float:
        return integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]

    a_wins = norm.cdf(b) * norm.sf(a) + quad(lambda s: norm.pdf(b + s) * norm.sf(a + s / k))
    b_wins = norm.cdf(a) * norm.sf(b) + quad(lambda s: norm.pdf(a + s) * norm.sf(b + k * s))
    return {1: float(a_wins), 2: float(b_wins)}


def gradient_trap(dim: int = 20, p: float = 1e-4, major_share: float = 0.99, steepness: float = 10.0,
                  sigma: float = 0.1, seed: int = 0) -> Landscape:
    """A steep major mode A and a shallow minor mode B: ``p = q_A + q_B - q_A q_B``.

    Logits ``(0, k (u . delta / sigma - a), v . delta / sigma - b)`` under ``Gaussian(sigma)``, with
    ``q_A = Phi_bar(a) = major_share p`` and ``q_B = Phi_bar(b) = (p - q_A) / (1 - q_A)`` (the two directions
    are orthonormal, so the events are independent). Parts from :func:`trap_parts`.
    """
    p = _check_target(p)
    if not 0 < major_share < 1 or steepness <= 0:
        raise ValueError("major_share must lie in (0, 1) and steepness be > 0")
    x, uv = _input_and_directions(dim, 2, seed)
    q_a = major_share * p
    a = float(stats.norm.isf(q_a))
    b = float(stats.norm.isf((p - q_a) / (1 - q_a)))
    u, v = uv[:, 0], uv[:, 1]
    ux, vx = float(u @ x.numpy()), float(v @ x.numpy())
    weight = np.stack([np.zeros(dim), steepness * u / sigma, v / sigma])
    model = _linear(weight, np.array([0.0, -steepness * (ux / sigma + a), -(vx / sigma + b)])).eval()
    q_a, q_b = float(stats.norm.sf(a)), float(stats.norm.sf(b))
    return Landscape(landscape_name("gradient-trap", dim, p), "gradient-trap", dim, model, x,
                     Gaussian(sigma=sigma), q_a + q_b - q_a * q_b, trap_parts(a, b, steepness))


# -- c. rough and comb, in one dimension ----------------------------------------------------------------
def wiggle_roots(c: float, amplitude: float, omega: float) -> np.ndarray:
    """All sign changes of ``s(t) = t - c + A sin(omega t)``, sorted; s > 0 after the last one.

    s has the sign of ``t - c`` outside ``[c - A, c + A]``, and is monotone between consecutive critical
    points ``cos(omega t) = -1 / (A omega)`` (none if ``A omega <= 1``): one brentq per monotone piece whose
    ends differ in sign finds every root (tangencies, of measure zero, are skipped).
    """
    def s(t):
        return t - c + amplitude * np.sin(omega * t)

    lo, hi = c - amplitude, c + 2 * amplitude  # s(lo) <= 0 < A <= s(hi)
    knots = [np.array([lo, hi])]
    if amplitude * omega > 1:
        phase = math.acos(-1 / (amplitude * omega))
        period = 2 * math.pi
        k = np.arange(math.floor((omega * lo - phase) / period), math.ceil((omega * hi + phase) / period) + 1)
        knots += [(period * k + phase) / omega, (period * k - phase) / omega]
    knots = np.unique(np.concatenate(knots))
    knots = knots[(knots >= lo) & (knots <= hi)]
    positive = s(knots) > 0
    change = np.flatnonzero(positive[1:] != positive[:-1])
    return np.array([optimize.brentq(s, knots[i], knots[i + 1], xtol=1e-300, rtol=1e-15) for i in change])


def _failure_intervals(roots: np.ndarray) -> list[tuple[float, float]]:
    """``[r1, r2], [r3, r4], ..., [r_n, inf)`` from the sorted sign changes (s < 0 before r1, > 0 after r_n)."""
    ends = [*roots.tolist(), math.inf]
    return list(zip(ends[0::2], ends[1::2], strict=True))


def _wiggle_mass(c: float, amplitude: float, omega: float, kind: str) -> float:
    intervals = _failure_intervals(wiggle_roots(c, amplitude, omega))
    if kind == "gaussian":
        return normal_mass(intervals)
    return sum(max(0.0, min(hi, 1.0) - max(lo, -1.0)) for lo, hi in intervals) / 2  # t ~ U(-1, 1)


def rough_1d(p: float = 1e-5, kind: str = "gaussian", amplitude: float | None = None, omega: float | None = None,
             scale: float = 0.1, x0: float = 0.5) -> Landscape:
    """A 1-D input failing on many thin intervals: ``s(t) = t - c + A sin(omega t) > 0``.

    ``t = (x' - x) / scale`` is N(0, 1) under ``Gaussian(scale)`` or U(-1, 1) under ``UniformLinf(scale)``.
    Defaults: ``A = 0.5``, ``omega = 60`` for the Gaussian kind; ``A = p``, ``omega = 30 / p`` for the uniform
    kind (the same shape scaled to its tail, which is ~2p wide). The offset c is solved for p; the exact p is the
    mass of the intervals between the roots of s (:func:`wiggle_roots`).
    """
    p = _check_target(p)
    if kind == "gaussian":
        amplitude = 0.5 if amplitude is None else amplitude
        omega = 60.0 if omega is None else omega
        centre = float(stats.norm.isf(p))
        lo, hi, perturbation = centre - amplitude - 2, centre + amplitude + 1, Gaussian(sigma=scale)
    elif kind == "uniform":
        amplitude = p if amplitude is None else amplitude
        omega = 30 / p if omega is None else omega
        lo, hi, perturbation = 1 - 10 * p - amplitude, 1 + amplitude, UniformLinf(eps=scale)
    else:
        raise ValueError(f"kind must be 'gaussian' or 'uniform', got {kind!r}")
    c = _solve(lambda v: _wiggle_mass(v, amplitude, omega, kind), p, lo, hi)
    x = torch.tensor([x0], dtype=torch.float64)
    model = TwoClass(torch.nn.Sequential(_linear(np.array([[1 / scale]]), np.array([-x0 / scale])),
                                         Wiggle(c, amplitude, omega))).eval()
    exact = _wiggle_mass(c, amplitude, omega, kind)
    name = "rough" if kind == "gaussian" else "rough-uniform"
    return Landscape(landscape_name(name, 1, p), name, 1, model, x, perturbation, exact, {1: exact})


def _comb_mass(c0: float, n_teeth: int, width: float, spacing: float) -> float:
    centres = c0 + spacing * np.arange(n_teeth)
    with mpmath.workdps(_DPS):  # the tooth ends c_k -/+ w in exact arithmetic, as the model compares them
        ends = [(mpmath.mpf(float(c)) - width, mpmath.mpf(float(c)) + width) for c in centres]
    return normal_mass(ends)


def comb_1d(p: float = 1e-5, n_teeth: int = 10, width: float = 1e-5, spacing: float = 0.25, sigma: float = 0.1,
            x0: float = 0.5) -> Landscape:
    """Failure exactly on n teeth ``|t - c_k| < width``, ``c_k = c_0 + k spacing``, ``t = (x' - x) / sigma``.

    Score ``width - min_k |t - c_k|`` (continuous, piecewise linear) under ``Gaussian(sigma)``;
    ``p = sum_k [Phi(c_k + width) - Phi(c_k - width)]``, with ``c_0 >= 0`` solved for the requested p.
    """
    p = _check_target(p)
    if spacing <= 2 * width:
        raise ValueError(f"teeth overlap: spacing {spacing} must exceed twice the half-width {width}")
    if _comb_mass(0.0, n_teeth, width, spacing) < p:
        raise ValueError(f"{n_teeth} teeth of half-width {width} cannot hold p={p:g}; widen them or add teeth")
    c0 = _solve(lambda v: _comb_mass(v, n_teeth, width, spacing), p, 0.0, 40.0)
    centres = c0 + spacing * np.arange(n_teeth)
    x = torch.tensor([x0], dtype=torch.float64)
    model = TwoClass(torch.nn.Sequential(_linear(np.array([[1 / sigma]]), np.array([-x0 / sigma])),
                                         Teeth(centres[None, :], width))).eval()
    exact = _comb_mass(c0, n_teeth, width, spacing)
    return Landscape(landscape_name("comb", 1, p), "comb", 1, model, x, Gaussian(sigma=sigma), exact, {1: exact})


# -- d. plateau -------------------------------------------------------------------------------------------
def plateau(dim: int = 20, p: float = 1e-3, plateau_mass: float = 0.9, scale: float = 0.1, kind: str = "gaussian",
            seed: int = 0) -> Landscape:
    """A flat score on ``plateau_mass`` of the noise: ``score = relu(g - t0) - h``, failure iff ``g > t0 + h``.

    Gaussian kind: ``g = u . delta / sigma``, ``Phi(t0) = plateau_mass``, ``p = Phi_bar(t0 + h)``. Uniform kind
    (``UniformLinf(eps)``, ``w = (1, ..., 1)``): ``g = w . delta / eps = 2 S - d``, ``P[S <= (d + t0) / 2] =
    plateau_mass``, ``p = P[S > (d + t0 + h) / 2]``. The height h is solved for p (needs p < 1 - plateau_mass).
    """
    p = _check_target(p)
    if not p < 1 - plateau_mass:
        raise ValueError(f"p={p:g} must be below the mass off the plateau, 1 - plateau_mass = {1 - plateau_mass:g}")
    x, u = _input_and_directions(dim, 1, seed)
    if kind == "gaussian":
        t0 = float(stats.norm.ppf(plateau_mass))
        h = float(stats.norm.isf(p)) - t0
        exact, perturbation, direction, name = float(stats.norm.sf(t0 + h)), Gaussian(sigma=scale), u[:, 0], "plateau"
    elif kind == "uniform":
        def tail(g: float) -> float:  # P[2 S - d > g]
            return irwin_hall_tail((dim + g) / 2, dim)

        t0 = optimize.brentq(lambda g: tail(g) - (1 - plateau_mass), -dim, dim, xtol=1e-14)
        h = _solve(tail, p, t0, dim) - t0
        exact, perturbation, direction, name = tail(t0 + h), UniformLinf(eps=scale), np.ones(dim), "plateau-linf"
    else:
        raise ValueError(f"kind must be 'gaussian' or 'uniform', got {kind!r}")
    head = _linear(np.array([[0.0], [1.0]]), np.array([0.0, -h]))  # (0, relu(g - t0) - h)
    model = torch.nn.Sequential(_projection(direction, x, scale, t0), torch.nn.ReLU(), head).eval()
    return Landscape(landscape_name(name, dim, p), name, dim, model, x, perturbation, exact, {1: exact})


# -- e. thin slab -----------------------------------------------------------------------------------------
def thin_slab(dim: int = 3072, p: float = 1e-6, width_sd: float = 0.01, sigma: float = 0.1,
              seed: int = 0) -> Landscape:
    """Failure on the slab ``a < u . delta / sigma < a + width_sd``: ``p = Phi(b) - Phi(a)``, ``b = a + width_sd``.

    Score ``min(g - a, b - g)`` under ``Gaussian(sigma)``; ``a >= 0`` is solved for p, and the mass is a difference
    of erfc's in 40 digits (in double precision the two tails cancel).
    """
    p = _check_target(p)
    if normal_mass([(0.0, width_sd)]) < p:
        raise ValueError(f"a slab {width_sd} standard deviations wide cannot hold p={p:g}")
    a = _solve(lambda v: normal_mass([(v, v + width_sd)]), p, 0.0, 40.0)
    b = a + width_sd
    x, u = _input_and_directions(dim, 1, seed)
    u = u[:, 0]
    ux = float(u @ x.numpy())
    margins = _linear(np.stack([u / sigma, -u / sigma]), np.array([-ux / sigma - a, ux / sigma + b]))  # g-a, b-g
    model = TwoClass(torch.nn.Sequential(margins, MinOut())).eval()
    exact = normal_mass([(a, b)])
    return Landscape(landscape_name("thin-slab", dim, p), "thin-slab", dim, model, x, Gaussian(sigma=sigma), exact,
                     {1: exact})


# -- the default grid -------------------------------------------------------------------------------------
def _grid() -> dict[str, Callable[[], Landscape]]:
    cells: list[tuple[str, int, float, Callable[[], Landscape]]] = [
        *(("equal-modes", d, p, functools.partial(equal_modes, d, p)) for d in (20, 200) for p in (1e-4, 1e-10)),
        *(("gradient-trap", 20, p, functools.partial(gradient_trap, 20, p)) for p in (1e-4, 1e-8)),
        *(("rough", 1, p, functools.partial(rough_1d, p)) for p in (1e-5, 1e-7)),
        *(("comb", 1, p, functools.partial(comb_1d, p)) for p in (1e-5, 1e-7)),
        *(("plateau", 20, p, functools.partial(plateau, 20, p)) for p in (1e-3, 1e-6)),
        *(("plateau-linf", 20, p, functools.partial(plateau, 20, p, kind="uniform")) for p in (1e-3, 1e-6)),
        *(("thin-slab", 3072, p, functools.partial(thin_slab, 3072, p)) for p in (1e-6, 1e-12)),
    ]
    return {landscape_name(kind, d, p): build for kind, d, p, build in cells}


#: The default grid: id -> builder (each landscape at two target probabilities between 1e-3 and 1e-12).
LANDSCAPES: dict[str, Callable[[], Landscape]] = _grid()


def landscape_grid(quick: bool = False) -> list[str]:
    """Ids of the default grid; ``quick``: the two easiest (largest p, then smallest d) of each kind."""
    if not quick:
        return list(LANDSCAPES)
    def key(name: str) -> tuple[float, int]:
        _, dim, p = name.split("/")
        return -float(p[1:]), int(dim[1:])

    by_kind: dict[str, list[str]] = {}
    for name in sorted(LANDSCAPES, key=key):
        by_kind.setdefault(name.split("/")[0], []).append(name)
    chosen = {name for names in by_kind.values() for name in names[:2]}
    return [name for name in LANDSCAPES if name in chosen]


@functools.lru_cache(maxsize=32)
def get_landscape(name: str) -> Landscape:
    """The landscape of the default grid with this id (built once per process)."""
    if name not in LANDSCAPES:
        raise KeyError(f"unknown landscape {name!r}; the grid has {', '.join(LANDSCAPES)}")
    return LANDSCAPES[name]()
