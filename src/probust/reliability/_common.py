"""What the reliability modules share: argument checks, integer search."""

from __future__ import annotations

import numbers
from collections.abc import Callable

from ..errors import ConfigurationError


def check_probability(value: float, name: str, *, zero_ok: bool = False) -> float:
    """``value`` as a float strictly inside (0, 1) (or [0, 1) with ``zero_ok``), else a ConfigurationError."""
    number = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if not number or not (0 <= value < 1 if zero_ok else 0 < value < 1):
        interval = "[0, 1)" if zero_ok else "(0, 1)"
        raise ConfigurationError(f"{name} must be a probability in {interval}, got {value!r}")
    return float(value)


def check_count(value: int, name: str, *, minimum: int = 0) -> int:
    whole = not isinstance(value, bool) and isinstance(value, numbers.Real) and float(value).is_integer()
    if not whole or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def smallest_integer(holds: Callable[[int], bool], start: int = 1) -> int:
    """The smallest ``n >= start`` with ``holds(n)``, for a predicate that stays true once it holds.

    Doubling then bisection: about 2 log2(n) evaluations.
    """
    if holds(start):
        return start
    low, high = start, max(2 * start, 2)
    while not holds(high):
        low, high = high, 2 * high
        if high > 1 << 62:
            raise ConfigurationError("no sample size up to 2^62 achieves this claim")
    while high - low > 1:  # invariant: holds(high) and not holds(low)
        mid = (low + high) // 2
        low, high = (low, mid) if holds(mid) else (mid, high)
    return high

