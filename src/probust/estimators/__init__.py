"""Estimators of the failure probability, one file per algorithm, selected by registry name."""

from __future__ import annotations

# The order they register in (and ``probust list`` shows): plain sampling, bounds, rare-event estimators, decisions.
# isort: off
from ..components import registry
from ._base import Estimator, Outcome
from ._decompose import PLAN_DEFAULTS, check_replicas
from .monte_carlo import MonteCarlo
from .proven import Proven
from .bab import BranchAndBound
from .amls import AdaptiveMultilevelSplitting
from .last_particle import LastParticle
from .importance import ImportanceSampling
from .gradient_smc import GradientSMC
from .cramer_chernoff import CramerChernoff
from .provero import Provero
from .cc_cert import CCCert
from .sequential import SequentialCertifier
# isort: on

#: Registry: name -> estimator class (``registry("estimator")``; every module above registers its class).
ESTIMATORS = registry("estimator")


def get_estimator(estimator: str | Estimator) -> Estimator:
    """An estimator from a spec (``"amls"``, ``"amls:n_particles=2000"``: default hyper-parameters but those
    named) or an instance."""
    return ESTIMATORS.get(estimator)


__all__ = [
    "ESTIMATORS", "PLAN_DEFAULTS", "AdaptiveMultilevelSplitting", "BranchAndBound", "CCCert", "CramerChernoff",
    "Estimator", "GradientSMC", "ImportanceSampling", "LastParticle", "MonteCarlo", "Outcome", "Proven", "Provero",
    "SequentialCertifier", "check_replicas", "get_estimator",
]
