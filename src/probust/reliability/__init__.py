"""System-level reliability claims from probabilistic-robustness evidence (the guide's Sec. 5).

From a campaign's per-input failure probabilities to a claim an assessor can check:

* :func:`operational_pfd` -- pfd under an operational profile with a distribution-free (or Bayesian)
  upper bound; unvisited and undecided operational mass counted as failing (:mod:`.pfd`, :mod:`.profile`);
* :func:`failure_rate`, :func:`mission_reliability` -- PFH = demand rate x pfd, (1 - pfd)^N (:mod:`.rates`);
* classical, Bayesian and conservative Bayesian (CBI) claims and demands needed, Kalra-Paddock miles
  (:mod:`.classical`, :mod:`.bayes`, :mod:`.cbi`);
* IEC 61508 SIL bands and aviation classes (:mod:`.thresholds`);
* a 1oo2 pair of models, ``E_OP[theta_A theta_B]`` vs the independence figure (:mod:`.redundancy`);
* :func:`assess` -- the whole claim; :func:`gsn_argument` / :func:`to_gsn_yaml` -- a GSN assurance-case
  fragment for gsn2x; :func:`write_html` -- a self-contained report page.
"""

from .assurance import gsn_argument, to_gsn_yaml, validate_gsn
from .bayes import posterior_confidence, posterior_demands_needed, posterior_upper_bound, survival_probability
from .cbi import (
    ConservativeClaim,
    cbi_confidence,
    cbi_demands_needed,
    cbi_survival,
    cbi_worst_case_mean,
    conservative_claim,
)
from .claim import Demonstration, ReliabilityClaim, assess
from .classical import demands_needed, exposure_needed, miles_needed, pfd_upper_bound, rate_upper_bound
from .evidence import CampaignEvidence, load_campaign, model_sha256
from .pfd import Cell, OperationalPfd, kl_upper_bound, operational_pfd
from .profile import fit_profile, profile_cells
from .rates import failure_rate, mission_reliability, parse_duration, parse_rate
from .redundancy import Redundancy, one_out_of_two
from .report import write_html
from .synthetic import SyntheticCampaign, synthetic_campaign
from .thresholds import Band, aviation_class, demand_mode, sil_band, sil_from_pfd, sil_from_pfh

__all__ = [
    "Band", "CampaignEvidence", "Cell", "ConservativeClaim", "Demonstration", "OperationalPfd", "Redundancy",
    "ReliabilityClaim", "SyntheticCampaign", "assess", "aviation_class", "cbi_confidence", "cbi_demands_needed",
    "cbi_survival", "cbi_worst_case_mean", "conservative_claim", "demand_mode", "demands_needed",
    "exposure_needed", "failure_rate", "fit_profile", "gsn_argument", "kl_upper_bound", "load_campaign",
    "miles_needed", "mission_reliability", "model_sha256", "one_out_of_two", "operational_pfd", "parse_duration",
    "parse_rate", "pfd_upper_bound", "posterior_confidence", "posterior_demands_needed", "posterior_upper_bound",
    "profile_cells", "rate_upper_bound", "sil_band", "sil_from_pfd", "sil_from_pfh", "survival_probability",
    "synthetic_campaign", "to_gsn_yaml", "validate_gsn", "write_html",
]
