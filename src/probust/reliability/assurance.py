"""A GSN assurance-case fragment of a claim, in the YAML that gsn2x renders (and as plain data for JSON).

Goal Structuring Notation, Community Standard v3 (SCSC-141C, 2021): goals (G), strategies (S), solutions
(Sn, the evidence), contexts (C), assumptions (A) and justifications (J), linked by ``supportedBy`` and
``inContextOf``. The YAML follows gsn2x's documented format (jonasthewolf/gsn2x, ``doc/src/yaml_syntax.md``):
every key is an element id whose prefix gives its type, ``text`` is required, and ``supportedBy``,
``inContextOf``, ``undeveloped`` and ``url`` are optional. :func:`validate_gsn` applies the rules gsn2x
checks (known prefixes; only goals and strategies are supported or have contexts; solutions, goals and
strategies support, contexts/assumptions/justifications are context; no self, duplicate or unresolved
reference; an undeveloped element has no support; one root, a goal; no cycle; everything reachable).

The argument: the top goal is the claim; a strategy argues over the campaign's RAM bound and, where that
falls short, over failure-free operational testing (classical or CBI). Goals the evidence cannot yet
discharge -- the operational testing still to do, IEC 61508's architectural constraints -- are marked
``undeveloped``: the fragment shows what remains, it does not pretend. Every number comes from the claim.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import ConfigurationError
from .claim import ReliabilityClaim, prior_text

__all__ = ["gsn_argument", "to_gsn_yaml", "validate_gsn"]

Nodes = dict[str, dict[str, Any]]
_PREFIXES = ("Sn", "G", "A", "J", "S", "C")  # Sn before S, as gsn2x matches them
_REFERENCE = {"prediction": "the model's prediction at x", "dataset": "the true label"}


def _kind(node_id: str) -> str:
    return next((p for p in _PREFIXES if node_id.startswith(p)), "")


def gsn_argument(claim: ReliabilityClaim, *, record_url: str | None = None) -> Nodes:
    """The claim as GSN elements ``{id: {"text": ..., ...}}`` (see the module docstring).

    ``record_url`` (for example the claim's JSON file) becomes the ``url`` of the solutions.
    """
    ev, pfd, demo = claim.evidence or {}, claim.pfd, claim.demonstration
    model = ev.get("model", "the model")
    url = {"url": record_url} if record_url else {}
    rate = "" if claim.mode != "high-demand" else (f" (PFH <= {claim.target_pfd * claim.demand_rate:.3g} per hour "
                                                   f"at {claim.demand_rate:g} demands per hour)")
    nodes: Nodes = {
        "G1": {"text": f"{model} fails on at most a fraction {claim.target_pfd:g} of demands (pfd <= "
                       f"{claim.target_pfd:g}){rate}, with confidence >= {claim.confidence:g}",
               "supportedBy": ["S1"], "inContextOf": ["C1", "C2", "C3", "C4"]},
        "C1": {"text": f"Model {model}, sha256 {ev.get('model_sha256', 'unknown')}"},
        "C2": {"text": f"Failure on a demand x: the label changes under the perturbation x' ~ "
                       f"{ev.get('perturbation', 'the stated law')} (reference label: "
                       f"{_REFERENCE.get(ev.get('label_source'), 'as stated')})"},
        "C3": {"text": _profile_text(claim)},
        "C4": {"text": f"SIL band of the upper bound: {claim.sil.name} ({claim.sil.standard}, {claim.sil.measure})"},
        "S1": {"text": "Argue over the RAM bound on the pfd (each cell's failure rate weighted by its operational "
                       "probability) from the campaign (Zhao et al. AISafety'21) and, where it falls short, over "
                       "failure-free operational testing",
               "supportedBy": ["G2"], "inContextOf": []},
        "G2": {"text": f"pfd <= {pfd.upper:.3g} with confidence {claim.confidence:g} ({pfd.ci.method}); point "
                       f"estimate {pfd.pfd:.3g}; " + _verdict(claim), "supportedBy": ["Sn1", "Sn2"]},
        "Sn1": {"text": _campaign_text(ev, pfd), **({"url": ev["database"]} if ev.get("database") else {})},
        "Sn2": {"text": f"probust's upper-bound computation from {pfd.n_inputs} per-input estimates"
                        + ("" if pfd.n_operational is None else f", {pfd.n_operational} operational inputs")
                        + f"; zero-failure floor {pfd.floor:.3g}", **url},
    }
    for k, text in enumerate(claim.assumptions, 1):
        nodes[f"A{k}"] = {"text": text}
        nodes["S1"]["inContextOf"].append(f"A{k}")
    nodes["J1"] = {"text": "Conservative counting: operational mass in unvisited or sparsely evaluated cells "
                           f"({pfd.unvisited_mass + pfd.sparse_mass:.3g}) and undecided inputs "
                           f"({pfd.undecided_mass:.3g}) count as failing"}
    nodes["S1"]["inContextOf"].append("J1")
    if not claim.supported:
        nodes["S1"]["supportedBy"].append("G3")
        nodes["G3"] = _testing_goal(claim, demo)
        if demo.cbi is not None and not claim.refuted:
            nodes["G3"]["inContextOf"] = ["J2"]
            nodes["J2"] = {"text": f"Prior knowledge {prior_text(demo.cbi)}; CBI takes the worst prior consistent "
                                   "with it (Bishop et al. TSE 2011, Theorem A)"}
    if claim.redundancy is not None:
        nodes["S1"]["supportedBy"].append("G4")
        nodes["G4"], nodes["Sn3"] = _redundancy_nodes(claim)
    if claim.sil.name.startswith("SIL") or claim.sil.name == "beyond SIL 4":
        nodes["S1"]["supportedBy"].append("G5")
        level = claim.sil.name if claim.sil.name.startswith("SIL") else "SIL 4"
        nodes["G5"] = {"text": f"The architectural constraints (hardware fault tolerance, safe failure fraction) "
                               f"and systematic capability required for {level} are met", "undeveloped": True}
    return nodes


def _verdict(claim: ReliabilityClaim) -> str:
    if claim.supported:
        return "this meets the target"
    if claim.refuted:
        return (f"the lower bound {claim.pfd.lower:.3g} exceeds the target {claim.target_pfd:g}: the evidence "
                "contradicts G1")
    return f"this does not reach the target {claim.target_pfd:g}"


def _profile_text(claim: ReliabilityClaim) -> str:
    pfd = claim.pfd
    if pfd.n_operational is None:
        return "Operational profile: the evaluated inputs themselves, each one demand"
    return (f"Operational profile: {len(pfd.cells)} cells (k-means in the model's penultimate features) with "
            f"{pfd.n_operational} operational inputs counted in them")


def _campaign_text(ev: dict[str, Any], pfd) -> str:
    if not ev:
        return f"Per-input failure-probability estimates of {pfd.n_inputs} inputs"
    data = ev["data"]
    source = f"{data['split']} split of {data['dataset']}" if "dataset" in data else data["inputs"]
    return (f"probust campaign {ev['campaign']}: {ev['n_inputs']} inputs of the {source}, estimator "
            f"{ev['estimator']}, {ev['budget']:,} queries per input, seed {ev['seed']}; {ev['n_missing']} missing, "
            f"{ev['n_warned']} with warnings")


def _testing_goal(claim: ReliabilityClaim, demo) -> dict[str, Any]:
    if claim.refuted:
        text = (f"The model is improved until a new campaign's upper bound meets pfd <= {claim.target_pfd:g} (the "
                f"current evidence gives pfd >= {claim.pfd.lower:.3g} at confidence {claim.confidence:g})")
    elif demo.cbi is None:
        text = (f"{demo.classical:,} failure-free operational demands establish pfd <= {claim.target_pfd:g} at "
                f"confidence {claim.confidence:g} (classical, zero failures)")
    else:
        text = (f"{demo.cbi.demands_needed:,} failure-free operational demands establish pfd <= "
                f"{claim.target_pfd:g} at confidence {claim.confidence:g} for every prior with the stated "
                f"knowledge (CBI; classical: {demo.classical:,})")
    return {"text": text, "undeveloped": True}


def _redundancy_nodes(claim: ReliabilityClaim) -> tuple[dict[str, Any], dict[str, Any]]:
    red, other = claim.redundancy, claim.redundant_evidence or {}
    partner = other.get("model", "a second model")
    ratio = "undefined" if red.ratio != red.ratio else f"{red.ratio:.3g}"
    goal = {"text": f"A 1oo2 pair with {partner} fails on a demand with probability <= {red.system.upper:.3g} at "
                    f"confidence {claim.confidence:g} (estimate {red.pfd:.3g}, {ratio} times the figure if the two "
                    f"failed independently, {red.independent:.3g})", "supportedBy": ["Sn3"]}
    solution = {"text": f"probust campaign {other.get('campaign', '?')} of {partner} on the same inputs",
                **({"url": other["database"]} if other.get("database") else {})}
    return goal, solution


def validate_gsn(nodes: Nodes) -> list[str]:
    """Problems gsn2x would report (errors and warnings), as ``"Vxx/Cxx: ..."`` lines; empty if none."""
    problems = []
    for node_id, node in nodes.items():
        kind = _kind(node_id)
        if not kind:
            problems.append(f"V01: element {node_id} is of unknown type")
        if not isinstance(node, dict) or not isinstance(node.get("text"), str):
            problems.append(f"element {node_id} has no text")
            continue
        support, context = node.get("supportedBy"), node.get("inContextOf")
        links = ((support, ("G", "Sn", "S"), "supportedBy"), (context, ("J", "A", "C"), "inContextOf"))
        for refs, allowed, what in links:
            if refs is None:
                continue
            if not isinstance(refs, list):
                problems.append(f"element {node_id}: {what} is not a list")
                continue
            ok = allowed if kind in ("G", "S") else ()
            for ref in refs:
                if ref == node_id:
                    problems.append(f"V06: element {node_id} references itself in {what}")
                if _kind(ref) not in ok:
                    problems.append(f"V04: element {node_id} has invalid type of reference {ref} in {what}")
                if ref not in nodes:
                    problems.append(f"C03: element {node_id} has unresolved {what}: {ref}")
            if len(set(refs)) != len(refs):
                problems.append(f"V05: element {node_id} has duplicate entries in {what}")
        if support and node.get("undeveloped"):
            problems.append(f"V03: undeveloped element {node_id} has supporting arguments")
        if kind in ("G", "S") and not support and not node.get("undeveloped"):
            problems.append(f"V02: element {node_id} is undeveloped but not marked undeveloped: true")
    return problems + _graph_problems(nodes)


def _graph_problems(nodes: Nodes) -> list[str]:
    children = {n: [r for key in ("supportedBy", "inContextOf") for r in (node.get(key) or []) if r in nodes]
                for n, node in nodes.items() if isinstance(node, dict)}
    referenced = {r for refs in children.values() for r in refs}
    roots = [n for n in nodes if n not in referenced]
    if len(roots) != 1 or _kind(roots[0]) != "G":
        return [f"C01/C02: need exactly one unreferenced element and it must be a goal, found {roots}"]
    seen, stack, problems = set(), [(roots[0], ())], []
    while stack:
        node_id, path = stack.pop()
        if node_id in path:
            problems.append(f"C04: cycle at element {node_id}")
            continue
        seen.add(node_id)
        stack.extend((child, (*path, node_id)) for child in children.get(node_id, []))
    unreachable = sorted(set(nodes) - seen)
    if unreachable:
        problems.append(f"C08: elements not reachable from {roots[0]}: {', '.join(unreachable)}")
    return problems


def to_gsn_yaml(nodes: Nodes, header: str = "GSN argument written by probust") -> str:
    """gsn2x YAML of a valid argument, after a ``# header`` comment (an invalid one: a ConfigurationError)."""
    problems = validate_gsn(nodes)
    if problems:
        raise ConfigurationError("invalid GSN argument: " + "; ".join(problems))
    clean = {k: {key: value for key, value in v.items() if value not in (None, [])} for k, v in nodes.items()}
    body = yaml.safe_dump(clean, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return f"# {header}; render with gsn2x (gsn2x FILE.yaml)\n" + re.sub(r"\n(?=[A-Z][A-Za-z]*\d+:)", "\n\n", body)
