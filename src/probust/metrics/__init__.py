"""Metrics over inputs and perturbations: tail risk measures and TSR, probabilistic Lipschitzness."""

from .lipschitz import LipschitzEstimate, probabilistic_lipschitz
from .operational_profile import OperationalProfile, PfdEstimate, penultimate_features, weighted_pfd
from .tail import cvar, evar, prob_acc, value_at_risk
from .tsr import TSREstimate, total_statistical_robustness

__all__ = [
    "value_at_risk", "cvar", "evar", "prob_acc", "total_statistical_robustness", "TSREstimate",
    "probabilistic_lipschitz", "LipschitzEstimate",
    "OperationalProfile", "PfdEstimate", "penultimate_features", "weighted_pfd",
]
