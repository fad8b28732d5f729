"""Estimators of the failure probability, one file per algorithm, selected by registry name."""

from __future__ import annotations

from ..errors import ConfigurationError
from ._base import Estimator, Outcome
from ._decompose import PLAN_DEFAULTS, check_replicas
from .amls import AdaptiveMultilevelSplitting
from .cc_cert import CCCert
from .cramer_chernoff import CramerChernoff
from .gradient_smc import GradientSMC
from .importance import ImportanceSampling
from .last_particle import LastParticle
from .monte_carlo import MonteCarlo
from .proven import Proven
from .provero import Provero
from .sequential import SequentialCertifier

#: Registry: name -> estimator class (constructed with default hyper-parameters when named by string).
ESTIMATORS: dict[str, type[Estimator]] = {
    cls.name: cls
    for cls in (MonteCarlo, Proven, AdaptiveMultilevelSplitting, LastParticle, ImportanceSampling, GradientSMC,
                CramerChernoff, Provero, CCCert)
}


def get_estimator(estimator: str | Estimator) -> Estimator:
    """An estimator instance from a registry name (default hyper-parameters) or an instance."""
    if isinstance(estimator, Estimator):
        return estimator
    if estimator not in ESTIMATORS:
        raise ConfigurationError(
            f"unknown estimator {estimator!r}; choose one of {sorted(ESTIMATORS)} or pass an Estimator instance"
        )
    return ESTIMATORS[estimator]()


__all__ = [
    "ESTIMATORS", "PLAN_DEFAULTS", "AdaptiveMultilevelSplitting", "CCCert", "CramerChernoff", "Estimator",
    "GradientSMC", "ImportanceSampling", "LastParticle", "MonteCarlo", "Outcome", "Proven", "Provero",
    "SequentialCertifier", "check_replicas", "get_estimator",
]
