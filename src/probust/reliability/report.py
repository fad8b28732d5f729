"""A self-contained HTML page of a reliability claim, in the style of every report (figures as base64 PNGs).

What an assessor reads first: the verdict, the pfd with its bounds, the PFH and the SIL band of the upper
bound with the caveats; then where the claim falls among the bands, the demands still needed under each
school of inference, the 1oo2 figure, the GSN argument and the assumptions it rests on.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from .._files import write_text_atomic
from ..reporting import figure_data_url, html_document, html_table, plt
from .assurance import Nodes, _kind
from .cbi import cbi_confidence
from .claim import ReliabilityClaim, prior_text
from .thresholds import _SIL_PFD, _SIL_PFH

__all__ = ["html_page", "write_html"]

_COLOURS = {4: "#2e7d32", 3: "#66bb6a", 2: "#c0ca33", 1: "#ffb300"}
_SHAPES = {"G": "goal", "S": "strategy", "Sn": "solution", "C": "context", "A": "assumption", "J": "justification"}
#: What this page adds to the shared style sheet: the verdict, the caveats and the GSN argument's shapes. An
#: assumption or justification is an ellipse drawn around its text box, sqrt(2) times the box in each direction
#: (inset -20.8%: the box's corners lie inside the ellipse, (1/sqrt 2)^2 + (1/sqrt 2)^2 = 1), so no line of text
#: crosses its outline however many lines it wraps to; the margins leave the ellipse room.
_STYLE = """.verdict{padding:.6em 1em;border-radius:6px;font-weight:600}.ok{background:#e3f2e1}
.short{background:#fff4d6}.refuted{background:#fde2e0}.caveats{background:#fafafa;border-left:4px solid #ffb300;
padding:.3em 1em}.gsn ul{list-style:none;padding-left:1.6em;border-left:1px solid #bbb;margin:.2em 0}
.el{display:inline-block;border:1.5px solid #333;padding:.3em .6em;margin:.25em 0;max-width:760px;background:#fff}
.el b{margin-right:.4em}.goal{}.strategy{transform:skewX(-12deg)}.strategy>span{display:inline-block;
transform:skewX(12deg)}.solution{border-radius:1.2em;background:#eef4fb}.context{border-radius:.8em;
background:#f6f6f6;font-size:.85em}.assumption,.justification{position:relative;z-index:0;border:none;
font-size:.85em;width:560px;max-width:calc(100% - 240px);margin:1.1em 0 1.1em 120px;background:none}
.assumption::before,.justification::before{content:"";position:absolute;z-index:-1;inset:-20.8%;
border:1.5px solid #333;border-radius:50%;background:#f6f6f6}
.und{color:#b26a00;font-size:.85em;margin-left:.5em}.ctx{margin-left:1.5em}"""


def _measure(claim: ReliabilityClaim) -> tuple[str, float, tuple, float]:
    """Name, scale (1 or the demand rate), SIL table and target of the measure the mode calls for."""
    if claim.mode == "high-demand":
        return "PFH (dangerous failures per hour)", claim.demand_rate, _SIL_PFH, claim.target_pfd * claim.demand_rate
    return "pfd (probability of failure per demand)", 1.0, _SIL_PFD, claim.target_pfd


def _bands_figure(claim: ReliabilityClaim) -> str:
    name, scale, table, target = _measure(claim)
    pfd = claim.pfd
    values = [v * scale for v in (pfd.pfd, pfd.upper, pfd.lower, pfd.floor, claim.target_pfd) if v > 0]
    lo, hi = min([table[0][1] / 10, *values]) / 3, max([table[-1][2] * 10, *values]) * 3
    fig, ax = plt.subplots(figsize=(8, 2.4))
    for level, low, high in table:
        ax.axvspan(low, high, color=_COLOURS[level], alpha=0.35)
        ax.text(math.sqrt(low * high), 0.95, f"SIL {level}", ha="center", va="top", fontsize=8)
    left = pfd.lower * scale if pfd.lower > 0 else lo
    ax.plot([left, pfd.upper * scale], [0.45, 0.45], color="#b71c1c", lw=3, solid_capstyle="butt",
            label=f"{claim.confidence:.0%} bounds [{pfd.lower * scale:.3g}, {pfd.upper * scale:.3g}]")
    ax.plot([pfd.pfd * scale], [0.45], "o", color="#1f4e79", ms=8, label=f"point estimate {pfd.pfd * scale:.3g}")
    if claim.alternative is not None:
        ax.plot([claim.alternative.upper * scale], [0.3], "s", color="#7b1fa2", ms=6,
                label=f"{claim.alternative.method} upper bound {claim.alternative.upper * scale:.3g}")
    ax.axvline(target, color="k", ls="--", lw=1.2, label=f"target {target:.3g}")
    ax.axvline(pfd.floor * scale, color="#777", ls=":", lw=1.2, label=f"zero-failure floor {pfd.floor * scale:.3g}")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel(name)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(f"the claim among the IEC 61508 bands ({claim.mode} mode)", fontsize=9)
    return figure_data_url(fig)


def _demonstration_figure(claim: ReliabilityClaim) -> str:
    b, c, demo = claim.target_pfd, claim.confidence, claim.demonstration
    top = max(demo.classical, demo.cbi.demands_needed if demo.cbi else 0) * 3
    n = np.unique(np.round(np.logspace(0, math.log10(top), 300)).astype(int))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(n, -np.expm1(n * math.log1p(-b)), color="k", label="classical: 1 - (1 - p)^n")
    ax.plot(n, -np.expm1((n + 1) * math.log1p(-b)), color="#777", ls="--", label="Bayes, uniform prior")
    thetas = sorted({0.1, 0.5, 0.9} | ({demo.cbi.prior_confidence} if demo.cbi else set()))
    for theta in thetas:
        eps = demo.cbi.prior_bound if demo.cbi else 0.0
        mine = demo.cbi is not None and theta == demo.cbi.prior_confidence
        conf = [cbi_confidence(b, int(k), theta, eps) for k in n]
        ax.plot(n, conf, lw=2.2 if mine else 0.9, alpha=1 if mine else 0.6,
                label=f"CBI, prior {theta:g}" + (" (this claim)" if mine else ""))
    ax.axhline(c, color="#b71c1c", lw=0.8, ls=":")
    for value in [demo.classical] + ([demo.cbi.demands_needed] if demo.cbi and demo.cbi.demands_needed else []):
        ax.axvline(value, color="#b71c1c", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("failure-free operational demands")
    ax.set_ylabel(f"confidence in pfd <= {b:g}")
    ax.legend(fontsize=7)
    return figure_data_url(fig)


def _redundancy_figure(theta_a, theta_b, names: tuple[str, str]) -> str:
    a, b = np.asarray(theta_a, float), np.asarray(theta_b, float)
    positive = np.concatenate([a[a > 0], b[b > 0]])
    floor = positive.min() / 3 if positive.size else 1e-6
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(np.maximum(a, floor), np.maximum(b, floor), s=9, alpha=0.5, color="#3b6ea5")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"failure probability of {names[0]}")
    ax.set_ylabel(f"failure probability of {names[1]}")
    ax.set_title(f"one point per input (zeros drawn at {floor:.0e})", fontsize=9)
    return figure_data_url(fig)


def _gsn_html(nodes: Nodes) -> str:
    referenced = {r for n in nodes.values() for key in ("supportedBy", "inContextOf") for r in n.get(key) or []}
    root = next(n for n in nodes if n not in referenced)

    def element(node_id: str) -> str:
        node = nodes[node_id]
        shape = _SHAPES[_kind(node_id)]
        mark = '<span class="und">&#9671; undeveloped</span>' if node.get("undeveloped") else ""
        link = f' <a href="{html.escape(node["url"])}">&#8599;</a>' if node.get("url") else ""
        return (f'<div class="el {shape}"><span><b>{node_id}</b>{html.escape(node["text"])}{link}{mark}'
                "</span></div>")

    def tree(node_id: str) -> str:
        node = nodes[node_id]
        context = "".join(element(c) + "<br>" for c in node.get("inContextOf") or [])
        children = "".join(f"<li>{tree(c)}</li>" for c in node.get("supportedBy") or [])
        return (element(node_id) + (f'<div class="ctx">{context}</div>' if context else "")
                + (f"<ul>{children}</ul>" if children else ""))

    return f'<div class="gsn">{tree(root)}</div>'


def _rows(pairs) -> str:
    """A table of (name, value) rows: names are text, values HTML."""
    return html_table([], [[html.escape(k), v] for k, v in pairs], markup=True)


def html_page(claim: ReliabilityClaim, nodes: Nodes, *, redundancy_inputs=None, outputs: dict[str, str] | None = None,
              footer: str = "probust") -> str:
    """The report page; ``redundancy_inputs`` = (theta_A, theta_B) per input draws the 1oo2 scatter.

    Not re-exported by :mod:`probust.reliability`: it draws with matplotlib (:mod:`probust.reporting`), which
    ``import probust.reliability`` should not load (import it from ``probust.reliability.report``).
    """
    pfd, demo, ev = claim.pfd, claim.demonstration, claim.evidence or {}
    if claim.supported:
        verdict = ("ok", f"Supported: pfd &le; {claim.target_pfd:g} with confidence {claim.confidence:g}")
    elif claim.refuted:
        verdict = ("refuted", f"Refuted: the evidence shows pfd &ge; {pfd.lower:.3g} &gt; {claim.target_pfd:g} at "
                              f"confidence {claim.confidence:g}")
    else:
        verdict = ("short", f"Not supported by the campaign alone: upper bound {pfd.upper:.3g} &gt; target "
                            f"{claim.target_pfd:g}")
    rate = "" if claim.mode != "high-demand" else (
        f"<p class=big>PFH = {claim.pfh:.3g}/h <span>upper bound {claim.pfh_upper:.3g}/h at "
        f"{claim.demand_rate:g} demands per hour ({claim.mode} mode)"
        + ("" if claim.aviation is None else f"; aviation class of the upper bound: {html.escape(claim.aviation.name)}")
        + "</span></p>")
    budget = _rows([
        ("point estimate (each cell's failure rate weighted by its operational probability)", f"{pfd.pfd:.4g}"),
        ("upper bound (the claim's)", f"{pfd.upper:.4g}"),
        ("distribution-free lower bound", f"{pfd.lower:.4g}"), ("method", html.escape(pfd.ci.method)),
        *([("other method's upper bound", f"{claim.alternative.upper:.4g} ({claim.alternative.method})")]
          if claim.alternative else []),
        ("unweighted mean over inputs", f"{pfd.unweighted:.4g}"),
        ("zero-failure floor (no campaign of this size can go below)", f"{pfd.floor:.3g}"),
        ("operational mass of unvisited cells (counted as failing)", f"{pfd.unvisited_mass:.3g}"),
        ("operational mass of sparse cells (counted as failing)", f"{pfd.sparse_mass:.3g}"),
        ("operational mass of undecided inputs (counted as failing)", f"{pfd.undecided_mass:.3g}"),
        ("evaluated inputs / undecided", f"{pfd.n_inputs} / {pfd.n_undecided}"),
        ("operational inputs counted", "none: the evaluated inputs are the demands" if pfd.n_operational is None
         else str(pfd.n_operational)),
    ])
    cells = html_table(["cell", "operational probability", "operational inputs", "evaluated inputs", "undecided",
                        "failure rate"],
                       [[str(k), f"{c.probability:.3f}", str(c.operational_count), str(c.inputs), str(c.undecided),
                         f"{c.failure_rate:.3g}"] for k, c in enumerate(pfd.cells)])
    plan = _rows([
        ("classical, zero failures", f"{demo.classical:,}"), ("Bayes, uniform prior", f"{demo.bayes_uniform:,}"),
        ("Bayes, Jeffreys prior", f"{demo.bayes_jeffreys:,}"),
        *([(f"CBI, prior {prior_text(demo.cbi)}", f"{demo.cbi.demands_needed:,}"),
           ("CBI worst-case posterior mean pfd after them", f"{demo.cbi.worst_case_mean:.3g}")] if demo.cbi else []),
        *([(f"CBI worst-case probability of surviving the next {demo.cbi.future_demands:,} demands",
            f"{demo.cbi.survival:.6g}")] if demo.cbi and demo.cbi.survival is not None else []),
        *([(f"mission reliability: no failure in the next {claim.mission_demands:,} demands (from the upper bound)",
            f"{claim.mission_reliability:.6g}")]
          if claim.mission_reliability is not None else []),
    ])
    redundancy = ""
    if claim.redundancy is not None:
        red, other = claim.redundancy, claim.redundant_evidence or {}
        names = (ev.get("model", "A"), other.get("model", "B"))
        scatter = "" if redundancy_inputs is None else (
            f'<img alt="per-input failure probabilities" src="{_redundancy_figure(*redundancy_inputs, names)}">')
        redundancy = (f"<h2>1oo2 redundancy with {html.escape(names[1])}</h2>" + _rows([
            (f"pfd of {names[0]} / {names[1]}", f"{red.pfd_a:.4g} / {red.pfd_b:.4g}"),
            ("pfd of the pair (both fail on the same demand; per-input product, averaged over the profile)",
             f"{red.pfd:.4g} (upper bound {red.system.upper:.4g})"),
            ("pfd if the two failed independently (product of their pfds)", f"{red.independent:.4g}"),
            ("pair / independent (how much their failures coincide)", f"{red.ratio:.3g}")]) + scatter)
    if claim.voting is not None:
        vote = claim.voting
        redundancy += (f"<h2>{vote.k}oo{vote.n} voting of the model over independent perturbations</h2>"
                       + _rows([
                           ("pfd of one copy", f"{vote.single:.4g}"),
                           (f"pfd of {vote.k}-out-of-{vote.n} voting (at least {vote.n - vote.k + 1} of {vote.n} "
                            "copies fail; per input, averaged over the profile)",
                            f"{vote.pfd:.4g} (upper bound {vote.system.upper:.4g})"),
                           ("the same from the pfd alone (optimistic: ignores which inputs fail)",
                            f"{vote.plug_in:.4g}"),
                           ("voting / from the pfd alone", f"{vote.ratio:.3g}")]))
    files = "".join(f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in (outputs or {}).items())
    body = f"""<h1>Reliability claim</h1>
<p>model <code>{html.escape(str(ev.get('model', '?')))}</code> &middot; campaign <code>{ev.get('campaign', '?')}</code>
&middot; perturbation <code>{html.escape(str(ev.get('perturbation', '?')))}</code> &middot; {pfd.n_inputs} inputs</p>
<p class="verdict {verdict[0]}">{verdict[1]}</p>
<p class=big>pfd = {pfd.pfd:.3g} <span>{claim.confidence:g} upper bound {pfd.upper:.3g} (lower {pfd.lower:.3g});
SIL band of the upper bound: <b>{html.escape(claim.sil.name)}</b> ({html.escape(claim.sil.measure)})</span></p>
{rate}
<div class="caveats"><ul>{''.join(f'<li>{html.escape(c)}</li>' for c in claim.caveats)}</ul></div>
<img alt="claim among the SIL bands" src="{_bands_figure(claim)}">
<h2>pfd and its uncertainty</h2>{budget}
<h2>Operational profile</h2>{cells}
<h2>Failure-free operational demands that would establish pfd &le; {claim.target_pfd:g}</h2>{plan}
<img alt="confidence against demands" src="{_demonstration_figure(claim)}">
{redundancy}
<h2>Assurance case (GSN)</h2>{_gsn_html(nodes)}
{f'<ul>{files}</ul>' if files else ''}
<h2>Assumptions</h2><ol>{''.join(f'<li>{html.escape(a)}</li>' for a in claim.assumptions)}</ol>
<h2>Evidence</h2><pre>{html.escape(json.dumps(claim.evidence, indent=1))}</pre>
<p>{html.escape(footer)}</p>"""
    return html_document("probust reliability claim", body, style=_STYLE)


def write_html(claim: ReliabilityClaim, nodes: Nodes, path: str | Path, **kwargs) -> None:
    """Write :func:`html_page` atomically."""
    write_text_atomic(path, html_page(claim, nodes, **kwargs))
