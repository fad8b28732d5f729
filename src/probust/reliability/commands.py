"""``probust reliability``: from a finished campaign to a system-level claim, its report and assurance case.

Example::

    probust reliability --db runs/cnn.db --op-split train --demand-rate 10/h --target-pfd 1e-4 \\
        --confidence 0.95 --prior-perfection 0.5 --html claim.html --json claim.json --gsn claim.yaml

Every option is checked before anything is computed, and every output is rendered before the first file
is written (each atomically), so a bad input leaves nothing half-written.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import _commands, zoo
from .._files import check_output_path, write_json_atomic, write_text_atomic
from .._inputs import load_inputs
from .._version import __version__
from ..errors import ConfigurationError
from ..intervals import check_confidence
from ..model_loading import load_model
from ._common import check_probability
from .assurance import gsn_argument, to_gsn_yaml
from .cbi import cbi_demands_needed
from .claim import ReliabilityClaim, assess, prior_text
from .evidence import CampaignEvidence, load_campaign
from .pfd import PFD_METHODS, operational_pfd
from .profile import profile_cells
from .rates import parse_duration, parse_rate
from .redundancy import one_out_of_two
from .report import html_page
from .voting import k_out_of_n, parse_voting

__all__ = ["register", "reliability_command"]


def register(commands: Any) -> None:
    """Add ``probust reliability`` to the ``probust`` sub-commands."""
    p = commands.add_parser("reliability", help="system-level claim from a campaign: pfd / PFH bounds, SIL band, "
                                                "demands still needed (classical, Bayes, CBI), 1oo2, GSN case",
                            description="From a finished campaign to the claim 'pfd <= P with confidence C': the pfd "
                                        "under an operational profile with its upper bound, PFH, the SIL band of the "
                                        "upper bound, the failure-free operational demands still needed, a 1oo2 pair, "
                                        "and a GSN assurance case (gsn2x YAML), JSON and HTML.")
    p.add_argument("--db", required=True, metavar="PATH", help="results database of a finished campaign")
    p.add_argument("--campaign", metavar="ID", help="campaign id (default: the only one in the database)")
    p.add_argument("--model", help="the model the claim is about; the campaign must have run on exactly it "
                                   "(default: the campaign's own model, unchanged since)")
    op = p.add_mutually_exclusive_group()
    op.add_argument("--op-split", metavar="SPLIT", help="operational profile from this split of the campaign's zoo "
                                                        "data set (default: the evaluated inputs are the demands)")
    op.add_argument("--op-inputs", metavar="FILE", help="operational profile from these inputs (.npy or .npz)")
    p.add_argument("--op-cells", type=int, default=10, metavar="K", help="cells of the profile (default 10)")
    p.add_argument("--target-pfd", type=float, required=True, metavar="P", help="the claim: pfd <= P")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence of the claim (default 0.95)")
    p.add_argument("--method", choices=PFD_METHODS, default="bound",
                   help="upper bound: distribution-free 'bound' (default) or Bayesian-bootstrap 'posterior'")
    p.add_argument("--demand-rate", metavar="RATE", help="demands per unit time, e.g. 10/h, 1/yr, 10Hz: gives PFH "
                                                         "and the IEC 61508 mode")
    p.add_argument("--mission", default="1h", metavar="DURATION", help="mission length with --demand-rate "
                                                                       "(default 1h)")
    prior = p.add_mutually_exclusive_group()
    prior.add_argument("--prior-perfection", type=float, metavar="THETA",
                       help="CBI prior knowledge P(pfd = 0) = THETA")
    prior.add_argument("--prior-confidence", type=float, metavar="THETA",
                       help="CBI prior knowledge P(pfd <= EPS) = THETA (with --prior-bound EPS)")
    p.add_argument("--prior-bound", type=float, metavar="EPS", help="the EPS of --prior-confidence")
    p.add_argument("--redundant-db", metavar="PATH", help="campaign of a second model on the same inputs: 1oo2 pfd")
    p.add_argument("--redundant-campaign", metavar="ID")
    p.add_argument("--voting", metavar="KooN", help="also the pfd of K-out-of-N copies of the model, each seeing its "
                                                   "own perturbation of the demand, e.g. 2oo3 (needs an mc campaign)")
    p.add_argument("--accept-model-based", metavar="ESTIMATOR",
                   help="accept this estimator's model-based intervals (amls, last-particle, gradient-smc, is) as "
                        "evidence; they hold only if its chains mix and reach every failure mode (default: refused)")
    p.add_argument("--missing", choices=("refuse", "fail"), default="refuse",
                   help="an unfinished campaign: refuse it (default) or count its missing inputs as failing")
    p.add_argument("--seed", type=int, default=0, help="seed of the profile's k-means and the bootstrap (default 0)")
    p.add_argument("--html", metavar="PATH", help="self-contained HTML report")
    p.add_argument("--json", metavar="PATH", help="the claim, its evidence and the GSN argument as JSON")
    p.add_argument("--gsn", metavar="PATH", help="GSN argument as gsn2x YAML")
    p.set_defaults(handler=reliability_command)


def _prior(args: argparse.Namespace, target: float, confidence: float) -> tuple[float | None, float]:
    if args.prior_bound is not None and args.prior_confidence is None:
        raise ConfigurationError("--prior-bound needs --prior-confidence (P(pfd <= EPS) = THETA)")
    theta = args.prior_perfection if args.prior_perfection is not None else args.prior_confidence
    eps = args.prior_bound or 0.0
    if args.prior_confidence is not None and args.prior_bound is None:
        raise ConfigurationError("--prior-confidence needs --prior-bound EPS (or use --prior-perfection)")
    if theta is not None:
        cbi_demands_needed(target, confidence, theta, eps)  # checks theta in (0, 1) and eps < target
    return theta, eps


def _outputs(args: argparse.Namespace) -> dict[str, str]:
    outputs = {kind: path for kind, path in (("html", args.html), ("json", args.json), ("gsn", args.gsn)) if path}
    if len(set(outputs.values())) < len(outputs):
        raise ConfigurationError("--html, --json and --gsn must name different files")
    for path in outputs.values():
        check_output_path(path)
    return outputs


def _same_inputs(a: CampaignEvidence, b: CampaignEvidence) -> None:
    for field in ("data", "indices", "perturbation", "label_source"):
        if getattr(a, field) != getattr(b, field):
            raise ConfigurationError(
                f"the campaigns differ in {field.replace('_', ' ')}: a 1oo2 pair needs both models evaluated on the "
                f"same inputs under the same perturbation; run the second campaign with the first one's options"
            )


def _voting(args: argparse.Namespace, ev: CampaignEvidence, cells, profile, confidence: float):
    """The KooN figure of ``--voting``, from the campaign's per-input Monte Carlo failure counts."""
    k, n = parse_voting(args.voting)
    if ev.estimator != "mc":
        raise ConfigurationError(f"--voting needs per-input failure counts of a fixed-size Monte Carlo campaign; "
                                 f"campaign {ev.campaign} used estimator {ev.estimator!r}: run one with --estimator mc")
    # missing inputs are undecided (they count as failing systems): any count serves as a placeholder
    failures = [ev.budget if f is None else f for f in ev.failures]
    samples = [ev.budget if s is None else s for s in ev.samples]
    return k_out_of_n(failures, samples, k, n, cells, profile, undecided=ev.undecided, confidence=confidence,
                      method=args.method, seed=args.seed)


def _profile(args: argparse.Namespace, ev: CampaignEvidence):
    """(cells, profile, words naming the operational data), or (None, None, None) without a profile."""
    if args.op_split is None and args.op_inputs is None:
        return None, None, None
    if args.op_split is not None:
        if "dataset" not in ev.data:
            raise ConfigurationError("--op-split needs a campaign on a zoo --dataset; use --op-inputs FILE instead")
        if args.op_split == ev.data["split"]:
            raise ConfigurationError(f"--op-split {args.op_split} is the campaign's own split: the profile must "
                                     "come from other data (e.g. --op-split train)")
        operational = zoo.load_dataset(ev.data["dataset"], split=args.op_split).x
        source = f"the {args.op_split} split of {ev.data['dataset']}"
    else:
        operational, source = load_inputs(args.op_inputs)[0], f"the inputs in {args.op_inputs}"
    model = load_model(ev.model, ev.arch)
    x = _commands.load_data(argparse.Namespace(**{"dataset": None, "split": None, "inputs": None, **ev.data}))[0]
    cells, profile = profile_cells(model, x[list(ev.indices)], operational, args.op_cells, args.seed)
    return cells, profile, source


def reliability_command(args: argparse.Namespace, argv: list[str]) -> int:
    target = check_probability(args.target_pfd, "--target-pfd")
    confidence = check_confidence(args.confidence)
    rate = None if args.demand_rate is None else parse_rate(args.demand_rate)
    mission = parse_duration(args.mission)
    theta, eps = _prior(args, target, confidence)
    if args.op_cells < 1:
        raise ConfigurationError(f"--op-cells must be >= 1, got {args.op_cells}")
    outputs = _outputs(args)
    if args.voting is not None:
        parse_voting(args.voting)  # checked before any work
    ev = load_campaign(args.db, args.campaign, model=args.model, missing=args.missing,
                       accept_model_based=args.accept_model_based)
    other = None
    if args.redundant_db is not None:
        other = load_campaign(args.redundant_db, args.redundant_campaign, missing=args.missing,
                              accept_model_based=args.accept_model_based)
        _same_inputs(ev, other)
    cells, profile, source = _profile(args, ev)
    common = dict(undecided=ev.undecided, confidence=confidence, seed=args.seed)
    pfd = operational_pfd(ev.failure_probabilities, cells, profile, method=args.method, **common)
    alternative = operational_pfd(ev.failure_probabilities, cells, profile,
                                  method=next(m for m in PFD_METHODS if m != args.method), **common)
    redundancy = None if other is None else one_out_of_two(
        ev.failure_probabilities, other.failure_probabilities, cells, profile, undecided_a=ev.undecided,
        undecided_b=other.undecided, confidence=confidence, method=args.method,
        shared_noise=any(s is not None and s == t for s, t in zip(ev.seeds, other.seeds, strict=True)), seed=args.seed)
    voting = None if args.voting is None else _voting(args, ev, cells, profile, confidence)
    claim = assess(pfd, target_pfd=target, demand_rate=rate, prior_confidence=theta, prior_bound=eps,
                   mission_hours=mission, alternative=alternative, redundancy=redundancy, voting=voting, evidence=ev,
                   redundant_evidence=other, operational_source=source)
    nodes = gsn_argument(claim, record_url=outputs.get("json"))
    texts = {"gsn": to_gsn_yaml(nodes, f"GSN argument written by probust {__version__}")} if "gsn" in outputs else {}
    if "html" in outputs:  # everything is rendered before the first file is written
        texts["html"] = html_page(claim, nodes, outputs=outputs, footer=f"probust {__version__}",
                                  redundancy_inputs=None if other is None else (ev.failure_probabilities,
                                                                                other.failure_probabilities))
    for kind, text in texts.items():
        write_text_atomic(outputs[kind], text)
    if "json" in outputs:
        write_json_atomic(outputs["json"], {"probust_version": __version__, "command": ["probust", *argv],
                                            "claim": claim.to_dict(), "gsn": nodes})
    _print_summary(claim, outputs)
    return 0


def _print_summary(claim: ReliabilityClaim, outputs: dict[str, str]) -> None:
    ev, pfd, demo = claim.evidence, claim.pfd, claim.demonstration
    lines = [f"campaign {ev['campaign']}: {ev['model']}, {ev['n_inputs']} inputs, {ev['perturbation']}",
             f"pfd = {pfd.pfd:.4g}; {claim.confidence:g} upper bound {pfd.upper:.4g} (lower {pfd.lower:.4g}) by "
             f"{pfd.ci.method}" + ("" if claim.alternative is None else
                                   f"; {claim.alternative.method} upper bound {claim.alternative.upper:.4g}")]
    if claim.pfh is not None:
        lines.append(f"PFH = {claim.pfh:.4g}/h, upper bound {claim.pfh_upper:.4g}/h at {claim.demand_rate:g} demands "
                     f"per hour ({claim.mode} mode)")
    lines.append(f"SIL band of the upper bound: {claim.sil.name} ({claim.sil.standard})")
    verdict = "supported" if claim.supported else "REFUTED by the evidence" if claim.refuted else "not supported"
    lines.append(f"claim pfd <= {claim.target_pfd:g} at {claim.confidence:g}: {verdict}")
    cbi = "" if demo.cbi is None else f"; CBI with {prior_text(demo.cbi)}: {demo.cbi.demands_needed:,}"
    lines.append(f"failure-free operational demands that would establish it: classical {demo.classical:,}{cbi}")
    if claim.redundancy is not None:
        red = claim.redundancy
        lines.append(f"1oo2 with {claim.redundant_evidence['model']}: pfd {red.pfd:.4g} (upper bound "
                     f"{red.system.upper:.4g}) vs independence {red.independent:.4g}: ratio {red.ratio:.3g}")
    if claim.voting is not None:
        vote = claim.voting
        lines.append(f"{vote.k}oo{vote.n} of the model: pfd {vote.pfd:.4g} (upper bound {vote.system.upper:.4g}) vs "
                     f"{vote.plug_in:.4g} from the pfd alone: ratio {vote.ratio:.3g}")
    lines += [f"caveat: {c}" for c in claim.caveats]
    if outputs:
        lines.append(f"wrote {', '.join(outputs.values())}")
    print("\n".join(lines))
