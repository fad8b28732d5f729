"""A self-contained HTML report of a campaign, plus CSV and JSON exports.

The page shows what a person asks first: the total statistical robustness with its interval, tail
measures over inputs, the distribution of per-input failure probabilities, the most fragile inputs next
to a perturbed version that fails, and the full configuration. Figures are matplotlib PNGs embedded as
base64, so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._files import write_text_atomic
from .._version import __version__
from ..metrics import cvar, evar, prob_acc, total_statistical_robustness, value_at_risk
from ..perturbations import parse_perturbation
from ..querying import Oracle
from ..reporting import figure_data_url, html_document, html_table, plt
from ..result import Result

Rows = list[tuple[int, int | None, Result]]
KAPPAS = (0.2, 0.1, 0.05, 0.01)


def _histogram(p: np.ndarray) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    positive = p[p > 0]
    floor = min(positive.min() / 10, 1e-6) if positive.size else 1e-6
    bins = np.logspace(math.log10(floor), 0, 40)
    ax.hist(np.where(p > 0, p, floor), bins=bins, color="#3b6ea5")
    ax.set_xscale("log")
    ax.set_xlabel(f"failure probability per input (zeros drawn at {floor:.0e})")
    ax.set_ylabel("inputs")
    ax.set_title(f"{(p == 0).sum()} of {p.size} inputs had no failure in their budget")
    return figure_data_url(fig)


def _first_failure(model, x: torch.Tensor, result: Result, perturbation, batch: int = 512, tries: int = 20):
    """A perturbed input that fails, re-drawn from the result's own seed (None if none is found quickly)."""
    oracle = Oracle(model, x, perturbation, _label_property(result), budget=batch * tries)
    stream = oracle.latent_stream(result.seed)
    for _ in range(tries):
        z = stream.take(batch)
        hit = torch.nonzero(oracle.scores(z) > 0)
        if len(hit):
            with torch.inference_mode():
                return perturbation.apply(oracle.x, z[hit[0, 0]].unsqueeze(0).to(oracle.dtype))[0]
    return None


def _label_property(result: Result):
    from ..properties import LabelChange

    return LabelChange(result.label)


def _fragile_figure(rows: Rows, data_x: torch.Tensor, model, perturbation, top: int = 8) -> str | None:
    worst = sorted(rows, key=lambda r: -r[2].failure_probability)[:top]
    worst = [r for r in worst if r[2].failure_probability > 0]
    if not worst or data_x.ndim != 4 or data_x.shape[1] not in (1, 3):
        return None
    fig, axes = plt.subplots(2, len(worst), figsize=(1.6 * len(worst), 3.6), squeeze=False)
    for k, (index, _, res) in enumerate(worst):
        x = data_x[index]
        failing = _first_failure(model, x, res, perturbation)
        for row, img, title in ((0, x, f"#{index} p={res.failure_probability:.2g}"), (1, failing, "fails")):
            ax = axes[row, k]
            ax.axis("off")
            if img is not None:
                ax.imshow(img.detach().cpu().float().permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_title(title, fontsize=8)
    fig.suptitle("most fragile inputs (top) and a perturbed input that changes the label (bottom)", fontsize=9)
    return figure_data_url(fig)


def summary(rows: Rows) -> dict[str, Any]:
    """TSR with its interval and tail measures over inputs of the per-input failure probabilities."""
    p = np.array([r.failure_probability for _, _, r in rows])
    out: dict[str, Any] = {"inputs": len(p), "mean_failure_probability": float(p.mean())}
    if len(p) >= 2:
        est = total_statistical_robustness(p, 0.95)
        out["tsr"] = {"value": est.tsr, "low": est.tsr_ci.low, "high": est.tsr_ci.high, "confidence": 0.95,
                      "method": "empirical Bernstein (guaranteed for i.i.d. inputs)"}
    out["VaR_0.1"] = value_at_risk(p, 0.1)
    out["CVaR_0.1"] = cvar(p, 0.1)
    out["EVaR_0.1"] = evar(p, 0.1)
    out["ProbAcc"] = {str(k): prob_acc(p, k) for k in KAPPAS}
    return out


def write_csv(rows: Rows, path: str | Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["index", "true_label", "reference_label", "failure_probability", "ci_low", "ci_high",
                     "confidence", "pr", "guarantee", "status", "n_queries", "seconds", "warnings"])
    for index, y, r in rows:
        writer.writerow([index, y, r.label, r.failure_probability, r.ci.low, r.ci.high, r.ci.confidence, r.pr,
                         r.guarantee, r.status, r.n_queries, r.seconds, " | ".join(r.warnings)])
    write_text_atomic(path, buf.getvalue())


def write_json(rows: Rows, config: dict[str, Any], path: str | Path) -> None:
    data = {"probust_version": __version__, "config": config, "summary": summary(rows),
            "results": [{"index": i, "true_label": y, "result": r.to_dict()} for i, y, r in rows]}
    write_text_atomic(path, json.dumps(data, indent=1))


def _profile_section(op) -> str:
    if op is None:
        return ""
    note = " (no evaluated input: counted as 1)"
    cells = [[str(c), f"{w:.3f}", f"{r:.3g}{note if c in op.empty_cells else ''}"]
             for c, (w, r) in enumerate(zip(op.cell_probabilities, op.cell_failure_rates, strict=True))]
    return (f"<h2>Operational profile</h2><p class=big>pfd = {op.pfd:.4g} <span>{op.ci.confidence:.0%} interval "
            f"[{op.ci.low:.4g}, {op.ci.high:.4g}] (Bayesian bootstrap); unweighted mean {op.unweighted:.4g}</span></p>"
            + html_table(["cell", "operational probability", "failure rate"], cells))


def write_html(
    rows: Rows, config: dict[str, Any], status: dict[str, Any], path: str | Path, model, data_x, profile=None
) -> None:
    """Render the report page (model and inputs are needed to draw failing perturbed examples)."""
    p = np.array([r.failure_probability for _, _, r in rows])
    stats = summary(rows)
    opts = config["options"]
    perturbation = parse_perturbation(opts["perturbation"])
    fragile = _fragile_figure(rows, data_x, model, perturbation) if model is not None else None
    tsr = stats.get("tsr")
    tsr_line = (f"<p class=big>TSR = {tsr['value']:.4f} <span>95% interval [{tsr['low']:.4f}, {tsr['high']:.4f}], "
                f"{html.escape(tsr['method'])}</span></p>") if tsr else "<p>TSR needs at least two inputs.</p>"
    measures = html_table([], [*[[k, f"{v:.4g}"] for k, v in stats.items() if isinstance(v, float)],
                               *[[f"ProbAcc(κ={k})", f"{v:.4f}"] for k, v in stats["ProbAcc"].items()]])
    worst = sorted(rows, key=lambda r: -r[2].failure_probability)[:15]
    table = html_table(
        ["index", "label", "ref", "p", "interval", "basis", "status", "queries", "warnings"],
        [[str(i), "" if y is None else str(y), str(r.label), f"{r.failure_probability:.3g}",
          f"[{r.ci.low:.3g}, {r.ci.high:.3g}]", r.guarantee,
          "<b>UNRELIABLE</b>" if r.status == "unreliable" else r.status, f"{r.n_queries:,}",
          html.escape("; ".join(r.warnings))] for i, y, r in worst],
        markup=True)
    warnings = sum(1 for _, _, r in rows if r.warnings)
    unreliable = sum(1 for _, _, r in rows if r.status == "unreliable")
    model_based = sum(1 for _, _, r in rows if r.guarantee == "model-based")
    body = f"""<h1>Probabilistic robustness campaign</h1>
<p>{status['finished']} of {status['total']} inputs finished &middot;
model <code>{html.escape(str(opts['model']))}</code> &middot;
perturbation <code>{html.escape(perturbation.to_spec())}</code> &middot; estimator
<code>{html.escape(str(opts['estimator']))}</code>, budget {opts['budget']:,} queries per input
{f'&middot; <b>{warnings} results carry warnings</b>' if warnings else ''}
{f'&middot; <b>{unreliable} results are unreliable</b> (a diagnostic failed)' if unreliable else ''}</p>
{f"<p>{model_based} intervals are <b>model-based</b>: they hold only if the estimator's chains mix and reach "
 "every failure mode (exact: i.i.d. sampling; sound: a white-box bound).</p>" if model_based else ''}
{tsr_line}
<h2>Tail measures over inputs</h2>{measures}
<p>VaR/CVaR/EVaR at &alpha;=0.1 of the per-input failure probability; ProbAcc(&kappa;) = share of inputs whose
failure probability is at most &kappa; (PRBench).</p>
{_profile_section(profile)}
<h2>Distribution of per-input failure probability</h2><img alt="histogram" src="{_histogram(p)}">
{f'<h2>Most fragile inputs</h2><img alt="fragile inputs" src="{fragile}">' if fragile else ''}
<h2>Least robust inputs</h2>{table}
<h2>Configuration</h2><pre>{html.escape(json.dumps(config, indent=1, sort_keys=True))}</pre>
<p>probust {__version__}</p>"""
    write_text_atomic(path, html_document(f"probust campaign {status['campaign']}", body))
