"""Parse CLI perturbation specs such as ``uniform-linf:eps=0.1,clip=0:1``."""

from __future__ import annotations

from ..components import registry
from ._base import Perturbation
from .compose import Compose

#: Registry: name -> perturbation class (``registry("perturbation")``; every module above registers its class).
PERTURBATIONS = registry("perturbation")
#: ``compose(SPEC;SPEC;...)``: parts applied in turn (:class:`~probust.perturbations.Compose`).
COMPOSE_EXAMPLE = Compose.example


def parse_perturbation(spec: str) -> Perturbation:
    """Build a perturbation from ``name:key=value,...``; ``clip=lo:hi`` sets the valid input range.

    Per-coordinate values are colon-separated (``eps=0.1:0.2:0.3``); ``compose(SPEC;SPEC)`` chains families.

    Examples
    --------
    >>> parse_perturbation("gaussian:sigma=0.25,clip=0:1")
    Gaussian(clip=(0.0, 1.0), sigma=0.25)
    >>> parse_perturbation("compose(rotation:deg=15;brightness:delta=0.2)").to_spec()
    'compose(rotation:deg=15;brightness:delta=0.2)'
    """
    return PERTURBATIONS.get(spec)
