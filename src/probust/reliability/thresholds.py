"""Acceptance thresholds: IEC 61508 safety integrity levels and aviation's per-flight-hour classes.

IEC 61508-1 section 7.6.2.9, Tables 2 (low-demand mode: average probability of dangerous failure on
demand, PFDavg) and 3 (high-demand or continuous mode: average frequency of dangerous failure per hour,
PFH). Bands are half-open, ``[low, high)``:

=====  =================  ================
SIL    PFDavg             PFH (per hour)
=====  =================  ================
4      [1e-5, 1e-4)       [1e-9, 1e-8)
3      [1e-4, 1e-3)       [1e-8, 1e-7)
2      [1e-3, 1e-2)       [1e-7, 1e-6)
1      [1e-2, 1e-1)       [1e-6, 1e-5)
=====  =================  ================

Low-demand mode means at most one demand per year (IEC 61508-4, 3.5.16); otherwise PFH applies. A number
alone never earns a SIL: IEC 61508-2 also sets architectural constraints (hardware fault tolerance and
safe failure fraction, route 1H, or route 2H) and systematic capability, which no campaign measures.

Aviation (FAA AC 25.1309-1A/B with ARP4761): a failure condition's probability per flight hour must be at
most 1e-9 (catastrophic: "extremely improbable"), 1e-7 (hazardous: "extremely remote"), 1e-5 (major:
"remote") or 1e-3 (minor: "probable"). DO-178C assigns software a development assurance level (A-E) by
the same severities, but that is process rigour, not a failure probability: the budget comes from the
system safety assessment.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from ..errors import ConfigurationError
from ..serialisation import Serialisable

__all__ = ["ARCHITECTURE_CAVEAT", "AVIATION_CAVEAT", "Band", "aviation_class", "better_sil", "demand_mode",
           "sil_band", "sil_from_pfd", "sil_from_pfh"]

Mode = Literal["low-demand", "high-demand"]
HOURS_PER_YEAR = 8760.0
#: (SIL, low, high) of IEC 61508-1 Table 2 (PFDavg) and Table 3 (PFH).
_SIL_PFD = ((4, 1e-5, 1e-4), (3, 1e-4, 1e-3), (2, 1e-3, 1e-2), (1, 1e-2, 1e-1))
_SIL_PFH = ((4, 1e-9, 1e-8), (3, 1e-8, 1e-7), (2, 1e-7, 1e-6), (1, 1e-6, 1e-5))
#: (failure condition, probability term, DO-178C level, largest probability per flight hour).
_AVIATION = (("catastrophic", "extremely improbable", "A", 1e-9), ("hazardous", "extremely remote", "B", 1e-7),
             ("major", "remote", "C", 1e-5), ("minor", "probable", "D", 1e-3))

ARCHITECTURE_CAVEAT = ("a failure measure alone never earns a SIL: IEC 61508-2 also requires the architectural "
                       "constraints (hardware fault tolerance and safe failure fraction) and systematic capability")
AVIATION_CAVEAT = ("DO-178C assigns software a development assurance level (process rigour), not a failure "
                   "probability; the per-flight-hour budget comes from the system safety assessment (ARP4761)")


@dataclasses.dataclass(frozen=True)
class Band(Serialisable):
    """The band ``[low, high)`` (aviation: ``(low, high]``) a value falls in, and what it is a band of."""

    name: str
    level: int | None
    low: float
    high: float
    value: float
    measure: str
    standard: str


def _check(value: float, what: str) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ConfigurationError(f"{what} must be a non-negative number, got {value!r}")
    return float(value)


def _sil(value: float, table: tuple[tuple[int, float, float], ...], measure: str, standard: str) -> Band:
    for level, low, high in table:
        if low <= value < high:
            return Band(f"SIL {level}", level, low, high, value, measure, standard)
    if value >= table[-1][2]:
        return Band("below SIL 1", 0, table[-1][2], math.inf, value, measure, standard)
    return Band("beyond SIL 4", None, 0.0, table[0][1], value, measure, standard)


def sil_from_pfd(pfd: float) -> Band:
    """SIL band of an average probability of dangerous failure on demand (low-demand mode).

    Examples
    --------
    >>> sil_from_pfd(1e-4).name, sil_from_pfd(9.99e-5).name, sil_from_pfd(0.1).name
    ('SIL 3', 'SIL 4', 'below SIL 1')
    """
    return _sil(_check(pfd, "the pfd"), _SIL_PFD, "PFDavg per demand, low-demand mode", "IEC 61508-1 Table 2")


def sil_from_pfh(pfh: float) -> Band:
    """SIL band of an average frequency of dangerous failure per hour (high-demand or continuous mode).

    Examples
    --------
    >>> sil_from_pfh(3.6).name, sil_from_pfh(5e-9).name, sil_from_pfh(1e-10).name
    ('below SIL 1', 'SIL 4', 'beyond SIL 4')
    """
    return _sil(_check(pfh, "the PFH"), _SIL_PFH, "PFH per hour, high-demand or continuous mode",
                "IEC 61508-1 Table 3")


def better_sil(band: Band) -> Band | None:
    """The SIL band one step better than ``band`` (of :func:`sil_from_pfd` or :func:`sil_from_pfh`); None from
    SIL 4 on. Its ``high`` is what the measure must fall below.

    Examples
    --------
    >>> better_sil(sil_from_pfh(0.146)).name, better_sil(sil_from_pfd(5e-3)).high, better_sil(sil_from_pfh(5e-9))
    ('SIL 1', 0.001, None)
    """
    table, of = (_SIL_PFD, sil_from_pfd) if band.standard.endswith("Table 2") else (_SIL_PFH, sil_from_pfh)
    if band.level is None or band.level >= table[0][0]:
        return None
    return of(next(low for level, low, _ in table if level == band.level + 1))


def demand_mode(demand_rate: float) -> Mode:
    """``"low-demand"`` for at most one demand per year (``demand_rate`` per hour), else ``"high-demand"``."""
    return "low-demand" if _check(demand_rate, "the demand rate") <= 1 / HOURS_PER_YEAR else "high-demand"


def sil_band(pfd: float, demand_rate: float | None = None) -> Band:
    """The SIL band of the measure the mode calls for: PFDavg without a rate or in low-demand mode, else PFH."""
    if demand_rate is None or demand_mode(demand_rate) == "low-demand":
        return sil_from_pfd(pfd)
    return sil_from_pfh(pfd * demand_rate)


def aviation_class(pfh: float) -> Band:
    """The most severe failure condition whose per-flight-hour limit ``pfh`` meets (AC 25.1309-1).

    Examples
    --------
    >>> aviation_class(1e-9).name, aviation_class(2e-9).name, aviation_class(0.01).name
    ('catastrophic', 'hazardous', 'none')
    """
    value = _check(pfh, "the probability per flight hour")
    low = 0.0
    for condition, term, dal, limit in _AVIATION:
        if value <= limit:
            return Band(condition, None, low, limit, value, f"per flight hour ({term}; DO-178C level {dal})",
                        "FAA AC 25.1309-1")
        low = limit
    return Band("none", None, _AVIATION[-1][3], math.inf, value, "per flight hour (above every class's limit)",
                "FAA AC 25.1309-1")
