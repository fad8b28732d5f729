"""Metrics over inputs and perturbations: tail risk measures and total statistical robustness (TSR)."""

from .tail import cvar, evar, prob_acc, value_at_risk
from .tsr import TSREstimate, total_statistical_robustness

__all__ = ["value_at_risk", "cvar", "evar", "prob_acc", "total_statistical_robustness", "TSREstimate"]
