"""The registry of training methods: name -> class (constructed with default hyper-parameters by name)."""

from __future__ import annotations

from ..errors import ConfigurationError
from ._base import Method
from .at_pr import ATPR
from .erm import ERM
from .evar import EVaR
from .mix_at import MixAT
from .noise_aug import NoiseAugmentation
from .pgd_at import PGDAT
from .prl_cvar import PRLCVaR
from .trades import TRADES

#: Registry: name -> method class, in the order of the comparison table.
METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (ERM, NoiseAugmentation, PGDAT, TRADES, PRLCVaR, EVaR, ATPR, MixAT)
}


def get_method(method: str | Method) -> Method:
    """A method instance from a registry name (default hyper-parameters) or an instance."""
    if isinstance(method, Method):
        return method
    if method not in METHODS:
        raise ConfigurationError(f"unknown training method {method!r}; choose one of {', '.join(METHODS)}")
    return METHODS[method]()
