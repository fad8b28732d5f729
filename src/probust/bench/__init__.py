"""PR-Bench: gold-standard cases for PR estimators (closed-form cases so far)."""

from .closed_form import (
    LinearCase,
    gaussian_tail,
    irwin_hall_tail,
    l2_ball_tail,
    linear_case,
    linear_classifier,
)

__all__ = ["LinearCase", "linear_case", "linear_classifier", "gaussian_tail", "l2_ball_tail", "irwin_hall_tail"]
