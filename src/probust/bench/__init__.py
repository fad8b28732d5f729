"""PR-Bench: the benchmark of PR estimators on cases with gold-standard failure probabilities.

* :mod:`~probust.bench.closed_form`: linear models with closed-form tails (also used by the estimator tests);
* :mod:`~probust.bench.cases`: the versioned case registry, loaded from the JSON suites in ``bench/data``;
* :mod:`~probust.bench.relu_net`, :mod:`~probust.bench.relu_quadrature`: small ReLU networks and their
  failure probability by nested quadrature of exact line integrals;
* :mod:`~probust.bench.protocol`, :mod:`~probust.bench.scoring`, :mod:`~probust.bench.store`,
  :mod:`~probust.bench.leaderboard`: running, scoring, storing and rendering (``probust bench``).

See docs/pr-bench.md for the protocol.
"""

from .closed_form import (
    LinearCase,
    gaussian_tail,
    irwin_hall_tail,
    l2_ball_tail,
    linear_case,
    linear_case_at_margin,
    linear_case_with_bias,
    linear_classifier,
    linear_tail,
)

__all__ = ["LinearCase", "linear_case", "linear_case_at_margin", "linear_case_with_bias", "linear_classifier",
           "linear_tail", "gaussian_tail", "l2_ball_tail", "irwin_hall_tail"]
