"""The case study's report: a self-contained HTML page and the GSN fragment's case-specific nodes.

The page follows the assessor's questions in order: the headline claim with its guarantees, what a demand
and a failure are, the assumptions (sensor noise, profiles, demand rate, target), the sensitivity of the
claim and its dominant assumption, the formal requirements next to the published verdicts, the 1oo2
alternative, and what would change the claim. The generic claim page (bands, demonstration figure, drawn
GSN) is ``reliability.html`` beside it.
"""

from __future__ import annotations

import html
import math
from typing import Any

from ..reliability import ReliabilityClaim
from ..reporting import figure_data_url, hardware_line, html_document, html_table, plt
from . import acasxu
from .study import Settings

__all__ = ["case_nodes", "html_report"]


def _g(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def case_nodes(nodes: dict[str, dict[str, Any]], settings: Settings, properties: list[dict[str, Any]],
               pair: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The generic claim argument with the case's contexts, the formal-requirement and 1oo2 legs, and defeaters."""
    sigma = ", ".join(f"{n} {s:.3g} {u}" for n, s, u in zip(acasxu.INPUTS, acasxu.NOMINAL_NOISE.sigma, acasxu.UNITS,
                                                             strict=True))
    nodes["C1"]["text"] = ("The ACAS Xu advisory networks N_{a,b} (45 ONNX networks of VNN-COMP 2021, shipped with "
                           "their notice); a demand is one encounter state presented to its network")
    nodes["C2"]["text"] = (f"Failure on a demand: a hazardous advisory (sense reversal or dropped advisory, see the "
                           f"severity table) under Gaussian sensor noise, sigma: {sigma}")
    proved = [p for p in properties if p["verdict"] == "proved"]
    contradictions = sum(p["contradiction"] for p in properties)
    nodes["G1"]["supportedBy"].append("S2")
    nodes["S2"] = {"text": "Argue over the formal requirements phi_1..phi_10 (Katz et al. CAV 2017) as independent "
                           "evidence about the advisory logic", "supportedBy": ["G6"]}
    nodes["G6"] = {"text": f"{len(proved)} of {len(properties)} checked property instances hold on their whole input "
                           f"box (sound bound P[violation] = 0); none contradicts a published VNN-COMP 2021 verdict "
                           f"({contradictions} contradictions)", "supportedBy": ["Sn4"]}
    nodes["Sn4"] = {"text": "probust branch and bound (bab): sound two-sided bounds on P[violation] under the "
                            "uniform law on each property's box", "url": "report.json"}
    nodes["S2"]["supportedBy"].append("G7")
    nodes["G7"] = {"text": f"A 1oo2 pair (N_1,1 and a second network trained by probust) has pfd <= "
                           f"{pair['system']['ci']['high']:.3g} on N_1,1's demands, measured with both channels on the "
                           f"same sensor reading ({_g(pair['diversity_ratio'])} x the independence figure)",
                   "supportedBy": ["Sn5"]}
    nodes["Sn5"] = {"text": f"probust campaigns of {pair['demands']} demands on N_1,1, the second channel and the pair",
                    "url": "report.json"}
    defeaters = [
        "Defeater (profile mismatch): the encounter profiles are explicit assumptions, not a fitted encounter "
        "model; the sensitivity table bounds the effect of the alternatives tried",
        "Defeater (sensor model): the noise is independent Gaussian with assumed sigmas; real trackers filter, "
        "bias and correlate errors",
        f"Defeater (demand rate): {settings.encounters_per_hour:g} encounters per flight hour x "
        f"{settings.cycles_per_encounter} advisory cycles each is assumed",
    ]
    for k, text in enumerate(defeaters, start=5):
        nodes[f"C{k}"] = {"text": text}
        nodes["G1"]["inContextOf"].append(f"C{k}")
    return nodes


def html_report(report: dict[str, Any], claim: ReliabilityClaim) -> str:
    """The study's page (see the module docstring)."""
    s = report["settings"]
    parts = [_headline(report, claim), _definitions(report), _assumptions(report), _sensitivity(report, claim),
             _properties(report["properties"]), _pair(report["pair"]), _change(report, claim),
             "<h2>Assumptions and caveats of the claim</h2><ul>"
             + "".join(f"<li>{html.escape(a)}</li>" for a in (*claim.assumptions, *claim.caveats)) + "</ul>",
             f"<p class=note>Files: <a href=report.json>report.json</a> (every figure), <a href=gsn.yaml>gsn.yaml</a> "
             f"(GSN for gsn2x), <a href=reliability.html>reliability.html</a> (the claim page, argument drawn), "
             f"study.db (the campaigns; a rerun resumes them). Run time {report['seconds']:.0f} s; "
             f"{html.escape(hardware_line({'hardware': report['hardware']}))}; probust {report['probust_version']}, "
             f"seed {s['seed']}.</p>"]
    return html_document("ACAS Xu case study", "<h1>ACAS Xu: from sensor noise to a system-level claim</h1>"
                         + "".join(parts))


def _headline(report: dict[str, Any], claim: ReliabilityClaim) -> str:
    pfd, s = claim.pfd, report["settings"]
    verdict = ("supported" if claim.supported else "refuted: the lower bound already exceeds the target"
               if claim.refuted else "not supported: the upper bound does not reach the target")
    dominant = report["sensitivity"]["dominant"]
    rows = [
        ("pfd (hazardous advisories per demand)", f"{pfd.pfd:.3g}, in [{pfd.lower:.3g}, {pfd.upper:.3g}] at "
         f"{claim.confidence:g} (one-sided bounds each; distribution-free Chernoff-KL over {pfd.n_inputs} demands)"),
        ("PFH (per flight hour)", f"{_g(claim.pfh)}, upper bound {_g(claim.pfh_upper)} at "
         f"{s['encounters_per_hour'] * s['cycles_per_encounter']:g} demands per flight hour"),
        ("target", f"PFH <= {s['target_pfh']:g} per flight hour (a hazardous failure condition, AMC 25.1309): "
         f"{verdict}"),
        ("SIL band of the upper bound", f"{claim.sil.name} ({claim.sil.standard})"),
        ("guarantees", "per demand: Monte Carlo, Clopper-Pearson (exact); pfd: distribution-free bound "
         "(guaranteed given the profile); formal properties: sound bounds (bab)"),
        ("dominant assumption", dominant),
    ]
    return "<h2>Headline</h2>" + html_table([], [list(r) for r in rows])


def _definitions(report: dict[str, Any]) -> str:
    sev = [[r["noise_free"], r["noisy"], r["effect"], r["class"]] for r in report["severity"]]
    return ("<h2>Demand and failure</h2><p>A demand is one encounter state (rho, theta, psi, v_own, v_int) presented "
            "to the network of its previous advisory and tau; the advisory is the minimum of the five scores. The "
            "failure is a <b>hazardous</b> confusion between the advisory computed from noisy sensor readings and "
            "the noise-free one; minor changes are not counted.</p>"
            + html_table(["noise-free advisory", "noisy advisory", "effect", "class"], sev))


def _assumptions(report: dict[str, Any]) -> str:
    noise = report["noise"]
    rows = [[n, f"{s:.4g}", u] for n, s, u in zip(acasxu.INPUTS, noise["sigma"], noise["units"], strict=True)]
    out = ["<h2>Sensor noise</h2><p>" + html.escape(noise["source"]) + ". Readings are wrapped (angles) and clipped to "
           "the networks' input domain before normalisation, as the .nnet convention does.</p>",
           html_table(["reading", "sigma", "unit"], rows), "<h2>Operational profiles</h2>"]
    for name, p in report["profiles"].items():
        out.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(p['description'])}</p>"
                   + html_table(["variable", "law"], [list(r) for r in p["table"]]))
    return "".join(out)


def _sensitivity(report: dict[str, Any], claim: ReliabilityClaim) -> str:
    sens = report["sensitivity"]
    rows = [[r["variant"], f"{r['pfd']:.3g}", f"{r['pfd_lower']:.3g}", f"{r['pfd_upper']:.3g}", f"{r['pfh_upper']:.3g}",
             f"{r['hazardous_demands']} / {r['demands']}", f"{r['seconds']:.0f}"] for r in sens["rows"]]
    factors = [[k, f"{v:.3g}"] for k, v in sens["factors"].items()]
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.4 * len(rows)))
    names = [r["variant"] for r in sens["rows"]]
    ax.barh(names, [r["pfh_upper"] for r in sens["rows"]], color="C0", alpha=0.4, label="upper bound")
    shown = [(r["pfh"], r["variant"]) for r in sens["rows"] if r["pfh"] > 0]
    if shown:
        ax.plot(*zip(*shown, strict=True), "ko", label="point estimate")
    ax.axvline(report["settings"]["target_pfh"], color="C3", ls="--", label="target")
    ax.set_xscale("log")
    ax.set_xlabel("hazardous advisories per flight hour")
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return ("<h2>Sensitivity of the claim</h2>"
            + html_table(["variant", "pfd", "lower bound", "upper bound", "PFH upper bound", "demands with theta > 0",
                          "seconds"], rows)
            + f'<p><img alt="PFH by variant" src="{figure_data_url(fig)}"></p>'
            + "<p>How far each assumption moves the PFH upper bound (max / min over its variants):</p>"
            + html_table(["factor", "ratio"], factors))


def _properties(rows: list[dict[str, Any]]) -> str:
    body = [[r["network"], r["property"], r["published"],
             r["verdict"] + (_WITNESS.get(r["witness"], "") if r["verdict"] == "violated" else ""),
             f"[{r['sound_low']:.3g}, {r['sound_high']:.3g}]", f"{r['estimate']:.3g}",
             f"{r['mass_upper']:.3g}", f"{r['violation_under_profile_upper']:.3g}", f"{r['seconds']:.1f}",
             "yes" if r["contradiction"] else "no"] for r in rows]
    holds = [r for r in rows if r["published"] == "holds"]
    proved = sum(r["verdict"] == "proved" for r in holds)
    return ("<h2>Formal requirements phi_1..phi_10</h2>"
            f"<p>{proved} of {len(holds)} instances published as holding are proved here (sound upper bound 0); "
            f"{sum(r['contradiction'] for r in rows)} contradictions with the published verdicts. P[violation] is "
            "under the uniform law on the property's box; the profile column bounds the probability that a demand of "
            "the nominal profile falls in the box and violates the property.</p>"
            + html_table(["network", "property", "published", "probust", "sound bounds", "estimate",
                          "box mass under profile (upper)", "violation under profile (upper)", "seconds",
                          "contradiction"], body))


#: How a violation was shown, in the table's few words.
_WITNESS = {"counterexample confirmed by onnxruntime": " (confirmed counterexample)",
            "failing region proved": " (failing region proved)"}


def _pair(pair: dict[str, Any]) -> str:
    ci = pair["system"]["ci"]
    rows = [["N_1,1 alone", f"{pair['channel_a']['pfd']:.3g}", f"{pair['channel_a']['ci']['high']:.3g}"],
            ["second channel alone", f"{pair['channel_b']['pfd']:.3g}", f"{pair['channel_b']['ci']['high']:.3g}"],
            ["1oo2, shared sensors (measured)", f"{pair['system']['pfd']:.3g}", f"{ci['high']:.3g}"],
            ["1oo2, a sensor set per channel: E[theta_A theta_B]", f"{pair['independent_sensors']:.3g}", ""],
            ["independence assumption: E[theta_A] E[theta_B]", f"{pair['independence']:.3g}", ""]]
    train = pair["second_channel"]
    return ("<h2>Defence in depth: a 1oo2 pair</h2><p>The second channel is a 3 x 64 ReLU network trained by "
            f"probust ({train['method']}, {train['epochs']} epochs) on {train['training_states']:,} states labelled "
            f"by N_1,1 (agreement {train['agreement_on_training_states']:.1%}). The pair issues a hazardous advisory "
            "only when both channels do (a disagreement falls back to a safe default: an assumption). Diversity "
            f"ratio measured / independence: {_g(pair['diversity_ratio'])}. {pair['demands']} demands of the nominal "
            "profile on N_1,1.</p>" + html_table(["architecture", "pfd", "upper bound"], rows))


def _change(report: dict[str, Any], claim: ReliabilityClaim) -> str:
    change, sens = report["what_would_change_the_claim"], report["sensitivity"]
    items = [f"The dominant assumption is <b>{html.escape(sens['dominant'])}</b> (the largest ratio above)."]
    if change["refuted"]:
        items.append("No amount of failure-free testing can establish the target: hazardous advisories were "
                     "observed at a rate whose lower bound exceeds it. The design must change (filtering of the "
                     "sensor readings, a retrained or monitored advisory logic) before testing can help.")
    items.append(f"Failure-free demands that would establish the target pfd {claim.target_pfd:.3g} at "
                 f"{claim.confidence:g}: {change['demands_for_target']:,} (classical; "
                 f"CBI with the stated prior: {_cbi(claim)}).")
    if "next_band" in change:
        items.append(f"Next SIL band up, {change['next_band']} (below {change['next_band_limit']:g}, "
                     f"{change['next_band_measure']}): "
                     f"{change['demands_for_next_band']:,} failure-free demands, or white-box evidence bounding theta "
                     "soundly on the profile's support (bab on the latent box of each network).")
    return "<h2>What would change the claim</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _cbi(claim: ReliabilityClaim) -> str:
    cbi = claim.demonstration.cbi
    return "n/a" if cbi is None else f"{cbi.demands_needed:,}"
