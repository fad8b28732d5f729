"""From a probability per demand to rates and missions: PFH = demand rate x pfd, R = (1 - pfd)^N.

``PFH = d * pfd`` assumes every failed demand is a dangerous failure. The pitfall this makes visible: a
10 Hz perception network sees d = 36,000 demands per hour, so a per-frame pfd of 1e-4 is 3.6 failures per
hour against a SIL 4 band of [1e-9, 1e-8): a per-frame figure can meet a per-hour target only through the
architecture (voting over frames, tracking, a monitor), never alone.
"""

from __future__ import annotations

import math
import re

from ..errors import ConfigurationError
from ._common import check_count

__all__ = ["failure_rate", "mission_reliability", "parse_duration", "parse_rate"]

#: Hours per unit of time.
_UNITS = {"s": 1 / 3600, "sec": 1 / 3600, "min": 1 / 60, "h": 1.0, "hr": 1.0, "hour": 1.0, "d": 24.0,
          "day": 24.0, "wk": 168.0, "week": 168.0, "yr": 8760.0, "y": 8760.0, "year": 8760.0, "a": 8760.0}
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def parse_rate(text: str) -> float:
    """Demands per hour from ``"10/h"``, ``"1/yr"``, ``"3e4/day"``, ``"10Hz"``.

    Examples
    --------
    >>> parse_rate("10/h"), parse_rate("10Hz"), parse_rate("2/day")
    (10.0, 36000.0, 0.08333333333333333)
    """
    spec = text.strip().replace(" ", "")
    if match := re.fullmatch(_NUMBER + r"(?:Hz|hz)", spec):
        value = float(match.group(1)) * 3600
    elif (match := re.fullmatch(_NUMBER + r"/(" + "|".join(_UNITS) + ")", spec)) is not None:
        value = float(match.group(1)) / _UNITS[match.group(2)]
    else:
        raise ConfigurationError(
            f"cannot read the rate {text!r}; write it as NUMBER/UNIT with UNIT one of {', '.join(_UNITS)} "
            "(e.g. 10/h, 1/yr) or NUMBER Hz"
        )
    if not value > 0:
        raise ConfigurationError(f"the rate {text!r} must be positive")
    return value


def parse_duration(text: str) -> float:
    """Hours in ``"1h"``, ``"30min"``, ``"2yr"``.

    Examples
    --------
    >>> parse_duration("1h"), parse_duration("30min")
    (1.0, 0.5)
    """
    match = re.fullmatch(_NUMBER + "(" + "|".join(_UNITS) + ")", text.strip().replace(" ", ""))
    if match is None or not float(match.group(1)) > 0:
        raise ConfigurationError(f"cannot read the duration {text!r}; write a positive NUMBER UNIT, e.g. 1h, "
                                 f"30min, 1yr (units: {', '.join(_UNITS)})")
    return float(match.group(1)) * _UNITS[match.group(2)]


def failure_rate(pfd: float, demand_rate: float) -> float:
    """Failures per hour (PFH) of a function with probability ``pfd`` per demand at ``demand_rate`` per hour.

    Examples
    --------
    >>> round(failure_rate(1e-4, parse_rate("10Hz")), 10)   # the 10 Hz pitfall: 3.6 failures per hour
    3.6
    """
    return pfd * demand_rate


def mission_reliability(pfd: float, demands: int) -> float:
    """Probability that ``demands`` independent demands all succeed: ``(1 - pfd)^N``.

    Examples
    --------
    >>> round(mission_reliability(1e-4, 10_000), 4)   # about exp(-1)
    0.3679
    """
    return math.exp(check_count(demands, "demands") * math.log1p(-pfd)) if pfd < 1 else float(demands == 0)
