"""A self-contained HTML report of a campaign, plus CSV and JSON exports.

The page shows what a person asks first: the total statistical robustness with its interval and the clean
accuracy next to it (PR is measured around each prediction, right or wrong), tail measures over inputs with
their intervals, the distribution of per-input failure probabilities, the most fragile inputs next to a
perturbed version that fails, and the configuration. Figures are matplotlib PNGs embedded as base64, so the
file can be mailed or archived on its own. The JSON export links the counterexample arrays (a compressed .npz
next to it) instead of inlining them as text, which made it ~25 KB per input.
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

from .._files import write_bytes_atomic, write_text_atomic
from .._version import __version__
from ..intervals import binomial_ci
from ..metrics import cvar, evar, prob_acc, total_statistical_robustness, value_at_risk
from ..perturbations import parse_perturbation
from ..querying import Oracle
from ..reporting import figure_data_url, html_document, html_table, plt
from ..result import Result

Rows = list[tuple[int, int | None, Result]]
KAPPAS = (0.2, 0.1, 0.05, 0.01)
#: Tail fraction of VaR, CVaR and EVaR, and the confidence of every interval over inputs.
ALPHA, CONFIDENCE = 0.1, 0.95
#: Summary key -> plain name, in the order of the page.
MEASURES = {
    "mean_failure_probability": "mean failure probability",
    f"VaR_{ALPHA}": f"failure probability exceeded by only the worst {ALPHA:.0%} of inputs (VaR)",
    f"CVaR_{ALPHA}": f"mean failure probability of the worst {ALPHA:.0%} of inputs (CVaR)",
    f"EVaR_{ALPHA}": f"entropic upper bound on the worst {ALPHA:.0%} (EVaR, >= VaR)",
}
_INTERVAL_METHOD = ("DKW band: simultaneous, distribution-free for i.i.d. inputs, each input's estimate taken as its "
                    "failure probability")
_OPTION_NAMES = {
    "model": "model", "arch": "architecture", "dataset": "data set", "inputs": "input file", "split": "split",
    "indices": "inputs (indices)", "perturbation": "perturbation", "failure": "failure property", "seed": "seed",
    "label": "reference label", "estimator": "estimator", "interval": "interval method",
    "budget": "budget (queries per input)", "confidence": "confidence", "decompose": "decompose the failure",
    "replicas": "replicas per estimate",
}


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


def _tail_measures(p: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    return {"mean_failure_probability": float(np.average(p, weights=weights)),
            f"VaR_{ALPHA}": value_at_risk(p, ALPHA, weights), f"CVaR_{ALPHA}": cvar(p, ALPHA, weights),
            f"EVaR_{ALPHA}": evar(p, ALPHA, weights)}


def _dkw_envelope(p: np.ndarray, eps: float, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """The extreme distribution of a DKW band, as weighted values: ``eps`` of the mass moved from the lowest values
    to 1 (``upper``) or from the highest to 0. Failure probabilities lie in [0, 1], so these are the band's ends."""
    v = np.sort(p) if upper else np.sort(p)[::-1]
    mass = np.full(len(v), 1.0 / len(v))
    removed = np.clip(eps - np.arange(len(v)) / len(v), 0.0, 1.0 / len(v))  # eps taken from the first values
    return np.append(v, 1.0 if upper else 0.0), np.append(mass - removed, min(eps, 1.0))


def tail_intervals(p: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, tuple[float, float]]:
    """Intervals over the choice of inputs for the mean, VaR, CVaR and EVaR of per-input failure probabilities.

    The Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant, ``P(sup |F_n - F| > eps) <= 2 exp(-2 n
    eps^2)``, gives a band that holds the inputs' distribution function with probability ``confidence``
    (``eps = sqrt(ln(2 / (1 - confidence)) / (2 n))``). Each measure is monotone in first-order stochastic
    dominance, so its values at the band's two extreme distributions bound it, for all four at once (the
    construction of Thomas & Learned-Miller, "Concentration inequalities for conditional value at risk", ICML
    2019). The inputs must be i.i.d. draws; each input's estimate is taken as its failure probability.
    """
    eps = math.sqrt(math.log(2 / (1 - confidence)) / (2 * len(p)))
    low, high = (_tail_measures(*_dkw_envelope(p, eps, upper)) for upper in (False, True))
    return {k: (low[k], high[k]) for k in low}


def clean_accuracy(rows: Rows, label_source: str) -> dict[str, int] | None:
    """How many inputs the model classifies right, when the reference label is its prediction and the true
    labels are known (with ``--label dataset`` the reference is the true label and the prediction is not stored)."""
    pairs = [(y, r.label) for _, y, r in rows if y is not None and r.label is not None]
    if label_source != "prediction" or not pairs:
        return None
    return {"correct": sum(y == label for y, label in pairs), "inputs": len(pairs)}


def summary(rows: Rows, label_source: str = "prediction") -> dict[str, Any]:
    """TSR with its interval, clean accuracy, and tail measures over inputs with their intervals."""
    p = np.array([r.failure_probability for _, _, r in rows])
    out: dict[str, Any] = {"inputs": len(p)}
    accuracy = clean_accuracy(rows, label_source)
    if accuracy is not None:
        out["clean_accuracy"] = accuracy
    if len(p) >= 2:
        est = total_statistical_robustness(p, CONFIDENCE)
        out["tsr"] = {"value": est.tsr, "low": est.tsr_ci.low, "high": est.tsr_ci.high, "confidence": CONFIDENCE,
                      "method": "empirical Bernstein (guaranteed for i.i.d. inputs)"}
    out.update(_tail_measures(p))
    out["ProbAcc"] = {str(k): prob_acc(p, k) for k in KAPPAS}
    count = {str(k): int((p <= k).sum()) for k in KAPPAS}
    out["intervals"] = {"confidence": CONFIDENCE, "method": _INTERVAL_METHOD,
                        **{k: list(v) for k, v in tail_intervals(p).items()},
                        "ProbAcc": {k: _ends(binomial_ci(c, len(p), CONFIDENCE, "clopper-pearson"))
                                    for k, c in count.items()}}
    return out


def _ends(ci: Any) -> list[float]:
    return [ci.low, ci.high]


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
    """Summary, configuration and every result; counterexample arrays go to ``<path>.counterexamples.npz``.

    Each result is ``Result.to_dict()`` without its counterexamples; the entry's ``counterexamples`` lists their
    scores and the keys of their ``latent`` and ``input`` arrays in the .npz (``numpy.load``, no pickle). As
    JSON text the arrays were 95% of the file (4.8 MB for 200 MNIST inputs).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    results = []
    for i, y, r in rows:
        entry: dict[str, Any] = {"index": i, "true_label": y, "result": r.to_dict()}
        found = entry["result"].pop("counterexamples", [])
        if found:
            entry["counterexamples"] = []
            for k, c in enumerate(found):
                keys = {name: f"{i}_{k}_{name}" for name in ("latent", "input")}
                arrays.update({keys[name]: _compact(c[name]) for name in keys})
                entry["counterexamples"].append({"score": c["score"], **keys})
        results.append(entry)
    sidecar = path.with_name(path.name.removesuffix(".json") + ".counterexamples.npz")
    data = {"probust_version": __version__, "config": config,
            "summary": summary(rows, config["options"].get("label", "prediction")),
            "counterexample_arrays": sidecar.name if arrays else None, "results": results}
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_bytes_atomic(sidecar, buf.getvalue())
    write_text_atomic(path, json.dumps(data, indent=1))


def _compact(values: Any) -> np.ndarray:
    """The array as float32 when that is exact (the usual model dtype), else float64: smaller, never rounded."""
    full = np.asarray(values, dtype=np.float64)
    single = full.astype(np.float32)
    return single if np.array_equal(single, full, equal_nan=True) else full


def _profile_section(op) -> str:
    if op is None:
        return ""
    note = " (no evaluated input: counted as 1)"
    cells = [[str(c), f"{w:.3f}", f"{r:.3g}{note if c in op.empty_cells else ''}"]
             for c, (w, r) in enumerate(zip(op.cell_probabilities, op.cell_failure_rates, strict=True))]
    return (f"<h2>Operational profile</h2><p class=big>pfd = {op.pfd:.4g} <span>{op.ci.confidence:.0%} interval "
            f"[{op.ci.low:.4g}, {op.ci.high:.4g}] (Bayesian bootstrap); unweighted mean {op.unweighted:.4g}</span></p>"
            + html_table(["cell", "operational probability", "failure rate"], cells))


def _accuracy_line(stats: dict[str, Any], opts: dict[str, Any]) -> str:
    """Clean accuracy next to the PR headline: PR is measured around each prediction, right or wrong."""
    acc = stats.get("clean_accuracy")
    if acc is None and opts.get("label") == "dataset":
        return ("<p>Reference label: the true label (<code>--label dataset</code>): a misclassified input fails "
                "everywhere.</p>")
    if acc is None:
        return "<p>Reference label: the model's prediction; no true labels to compare it with.</p>"
    k, n = acc["correct"], acc["inputs"]
    wrong = (f": the reference (the model's prediction) differs from the true label on {n - k} of {n} inputs, and "
             "PR there measures how stably the model is wrong") if k < n else ""
    return f"<p><b>Clean accuracy {k}/{n} ({k / n:.1%})</b>{wrong}.</p>"


def _measures_table(stats: dict[str, Any]) -> str:
    intervals = stats["intervals"]
    rows = [[name, f"{stats[key]:.4g}", "[{:.4g}, {:.4g}]".format(*intervals[key])] for key, name in MEASURES.items()]
    rows += [[f"share of inputs with failure probability <= {k} (ProbAcc)", f"{v:.4f}",
              "[{:.4f}, {:.4f}]".format(*intervals["ProbAcc"][k])] for k, v in stats["ProbAcc"].items()]
    return html_table(["measure", "value", f"{intervals['confidence']:.0%} interval"], rows)


def _config_table(config: dict[str, Any]) -> str:
    """The campaign's identity as name / value rows ("-": not set, the default), with the files' fingerprints."""
    def shown(value: Any) -> str:
        if value is None:
            return "-"
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    opts = config["options"]
    order = [*_OPTION_NAMES, *sorted(set(opts) - set(_OPTION_NAMES))]
    rows = [[_OPTION_NAMES.get(k, k), shown(opts[k])] for k in order if k in opts]
    rows += [["model sha256", shown(config.get("model_sha256"))]]
    if config.get("inputs_sha256"):
        rows.append(["input file sha256", config["inputs_sha256"]])
    rows.append(["probust version (at the start)", shown(config.get("probust_version"))])
    return html_table(["setting", "value"], rows)


def write_html(
    rows: Rows, config: dict[str, Any], status: dict[str, Any], path: str | Path, model, data_x, profile=None
) -> None:
    """Render the report page (model and inputs are needed to draw failing perturbed examples)."""
    p = np.array([r.failure_probability for _, _, r in rows])
    opts = config["options"]
    stats = summary(rows, opts.get("label", "prediction"))
    perturbation = parse_perturbation(opts["perturbation"])
    fragile = _fragile_figure(rows, data_x, model, perturbation) if model is not None else None
    tsr = stats.get("tsr")
    tsr_line = (f"<p class=big>TSR = {tsr['value']:.4f} <span>{tsr['confidence']:.0%} interval [{tsr['low']:.4f}, "
                f"{tsr['high']:.4f}], {html.escape(tsr['method'])}</span></p>") if tsr else (
        "<p>TSR needs at least two inputs.</p>")
    worst = sorted(rows, key=lambda r: -r[2].failure_probability)[:15]
    table = html_table(
        ["index", "label", "ref", "p", f"{100 * opts['confidence']:g}% interval of p", "basis", "status", "queries",
         "warnings"],
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
{_accuracy_line(stats, opts)}
<h2>Tail measures over inputs</h2>{_measures_table(stats)}
<p>Over the {len(p)} evaluated inputs, each counted with its estimated failure probability. Intervals:
{CONFIDENCE:.0%}, {html.escape(_INTERVAL_METHOD)} (VaR, CVaR, EVaR and the mean); exact Clopper-Pearson for each
share (PRBench's ProbAcc).</p>
{_profile_section(profile)}
<h2>Distribution of per-input failure probability</h2><img alt="histogram" src="{_histogram(p)}">
{f'<h2>Most fragile inputs</h2><img alt="fragile inputs" src="{fragile}">' if fragile else ''}
<h2>Least robust inputs</h2>{table}
<h2>Configuration</h2>{_config_table(config)}
<p>probust {__version__}</p>"""
    write_text_atomic(path, html_document(f"probust campaign {status['campaign']}", body))
