"""The registry of training methods: name -> class (``registry("method")``).

The modules are imported in the order of the comparison table, which is the order they register in.
"""

from __future__ import annotations

# isort: off
from ..components import registry
from ._base import Method
from .erm import ERM
from .noise_aug import NoiseAugmentation
from .pgd_at import PGDAT
from .trades import TRADES
from .prl_cvar import PRLCVaR
from .evar import EVaR
from .at_pr import ATPR
from .mix_at import MixAT
# isort: on

#: Registry: name -> method class, in the order of the comparison table.
METHODS = registry("method")


def get_method(method: str | Method) -> Method:
    """A method from a spec (``"trades"``, ``"trades:beta=1"``: default hyper-parameters but those named) or an
    instance."""
    return METHODS.get(method)


__all__ = ["ATPR", "ERM", "METHODS", "PGDAT", "TRADES", "EVaR", "MixAT", "NoiseAugmentation", "PRLCVaR",
           "get_method"]
