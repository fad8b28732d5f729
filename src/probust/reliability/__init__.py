"""System-level reliability claims from probabilistic-robustness evidence (the guide's Sec. 5).

From a campaign's per-input failure probabilities to a claim an assessor can check:

* :func:`operational_pfd` -- pfd under an operational profile with a distribution-free (or Bayesian)
  upper bound; unvisited and undecided operational mass counted as failing (:mod:`.pfd`, :mod:`.profile`);
* :func:`failure_rate`, :func:`mission_reliability` -- PFH = demand rate x pfd, (1 - pfd)^N (:mod:`.rates`);
* classical, Bayesian and conservative Bayesian (CBI) claims and demands needed, Kalra-Paddock miles
  (:mod:`.classical`, :mod:`.bayes`, :mod:`.cbi`);
* IEC 61508 SIL bands and aviation classes (:mod:`.thresholds`);
* a 1oo2 pair of models, ``E_OP[theta_A theta_B]`` vs the independence figure (:mod:`.redundancy`);
* KooN voting of one model over independent perturbations of a demand, ``E_OP[P(Bin(N, theta) >= N-K+1)]``
  from per-input failure counts, and the beta-factor common-cause model (:mod:`.voting`);
* :func:`assess` -- the whole claim; :func:`gsn_argument` / :func:`to_gsn_yaml` -- a GSN assurance-case
  fragment for gsn2x; ``probust.reliability.report.write_html`` -- a self-contained report page.

The names load on first use (PEP 562): ``import probust`` stays as fast as before, without the k-means,
SQLite and YAML machinery these modules pull in.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the submodule defining it.
_EXPORTS = {
    **dict.fromkeys(("gsn_argument", "to_gsn_yaml", "validate_gsn"), "assurance"),
    **dict.fromkeys(("posterior_confidence", "posterior_demands_needed", "posterior_upper_bound",
                     "survival_probability"), "bayes"),
    **dict.fromkeys(("ConservativeClaim", "cbi_confidence", "cbi_demands_needed", "cbi_survival",
                     "cbi_worst_case_mean", "conservative_claim"), "cbi"),
    **dict.fromkeys(("Demonstration", "ReliabilityClaim", "assess"), "claim"),
    **dict.fromkeys(("demands_needed", "exposure_needed", "miles_needed", "pfd_upper_bound", "rate_upper_bound"),
                    "classical"),
    **dict.fromkeys(("CampaignEvidence", "load_campaign", "model_sha256"), "evidence"),
    **dict.fromkeys(("Cell", "OperationalPfd", "kl_upper_bound", "operational_pfd"), "pfd"),
    **dict.fromkeys(("fit_profile", "profile_cells"), "profile"),
    **dict.fromkeys(("failure_rate", "mission_reliability", "parse_duration", "parse_rate"), "rates"),
    **dict.fromkeys(("Redundancy", "diversity_ratio", "one_out_of_two"), "redundancy"),
    **dict.fromkeys(("SyntheticCampaign", "synthetic_campaign"), "synthetic"),
    **dict.fromkeys(("Voting", "beta_factor", "k_out_of_n", "parse_voting"), "voting"),
    **dict.fromkeys(("Band", "aviation_class", "better_sil", "demand_mode", "sil_band", "sil_from_pfd",
                     "sil_from_pfh"), "thresholds"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
