"""The training leaderboard: per method, mean +- sd over seeds of the protocol's figures; the Pareto front of
(PR at the training radius, strong-attack AR, clean accuracy) over the method means, each member marked "within
noise" unless the evaluation's 95% intervals separate it from every other method; terminal, Markdown, HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..intervals import binomial_ci
from ..reporting import figure_data_url, hardware_line, html_document, html_table, markdown_table, plt
from .protocol import KAPPAS, RADII

#: The three objectives of the Pareto front (all to maximise).
FRONT = ("pr_train", "ar_strong", "clean")


def _stats(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan  # no sd from one seed


def summarize(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per method (in the order first seen): figures as (mean, sd) over the seeds that finished."""
    rows = []
    for method in dict.fromkeys(c["method"] for c in cells):
        ok = [c for c in cells if c["method"] == method and c["status"] == "ok"]
        errors = [c for c in cells if c["method"] == method and c["status"] != "ok"]
        res = [c["protocol"] for c in ok]
        row: dict[str, Any] = {"method": method, "seeds": len(ok), "errors": len(errors),
                               "messages": [c["message"] for c in errors]}
        if res:
            eps = res[0].train_eps
            row["clean"] = _stats([r.clean_accuracy for r in res])
            for k, radius in enumerate(res[0].pr):
                rs = [r.pr[k] for r in res]
                row[f"pr@{radius.eps:g}"] = _stats([x.pr for x in rs])
                row[f"ci@{radius.eps:g}"] = (float(np.mean([x.low for x in rs])), float(np.mean([x.high for x in rs])))
            row["pr_train"] = _stats([r.at(eps).pr for r in res])
            row["intervals"] = {
                "pr_train": row[f"ci@{res[0].at(eps).eps:g}"],
                "ar_strong": _pooled([(r.ar_strong, r.n_ar) for r in res]),
                "clean": _pooled([(r.clean_accuracy, r.n_test) for r in res]),
            }
            for kappa in KAPPAS:
                row[f"probacc@{kappa:g}"] = _stats([r.at(eps).prob_acc[str(kappa)] for r in res])
                row[f"certacc@{kappa:g}"] = _stats([r.at(eps).prob_acc_certified[str(kappa)] for r in res])
            row["ar_pgd20"] = _stats([r.ar_pgd20 for r in res])
            row["ar_strong"] = _stats([r.ar_strong for r in res])
            row["ge_acc"] = _stats([r.ge_accuracy for r in res])
            row["ge_pr"] = _stats([r.ge_pr for r in res])
            row["train_s"] = _stats([c["record"]["seconds"] for c in ok])
            row["eval_s"] = _stats([r.seconds for r in res])
        rows.append(row)
    _mark_front(rows)
    _mark_separated(rows)
    return rows


def _pooled(shares: list[tuple[float, int]]) -> tuple[float, float]:
    """95% Clopper-Pearson interval of a share measured on ``n`` inputs per seed, the seeds' counts pooled."""
    k, n = sum(round(share * n) for share, n in shares), sum(n for _, n in shares)
    ci = binomial_ci(k, n, 0.95, "clopper-pearson")
    return ci.low, ci.high


def _mark_front(rows: list[dict[str, Any]]) -> None:
    """``front`` = no other method is at least as good on all of FRONT and better on one (method means)."""
    scored = [r for r in rows if "clean" in r]
    for r in rows:
        r["front"] = False
    for r in scored:
        a = [r[k][0] for k in FRONT]
        r["front"] = not any(
            all(o[k][0] >= v for k, v in zip(FRONT, a, strict=True))
            and any(o[k][0] > v for k, v in zip(FRONT, a, strict=True)) for o in scored if o is not r)


def _mark_separated(rows: list[dict[str, Any]]) -> None:
    """``separated`` = a front member that the evaluation's noise cannot dislodge: against every other method it is
    better on some objective with disjoint 95% intervals (its low above the other's high).

    Otherwise another method might be at least as good on all three objectives within noise, and the front of the
    means is no evidence that this one is Pareto-optimal: the leaderboard says "within noise". The intervals are
    the evaluation's own (PR: the per-seed empirical-Bernstein interval, averaged over seeds; AR and clean
    accuracy: Clopper-Pearson over the evaluated inputs, pooled over seeds): seed-to-seed variation of training
    comes on top, so "separated" is a necessary condition, not a proof.
    """
    scored = [r for r in rows if "clean" in r]
    for r in rows:
        r["separated"] = r["front"] and all(
            any(r["intervals"][k][0] > o["intervals"][k][1] for k in FRONT) for o in scored if o is not r)


def _front_cell(row: dict[str, Any]) -> str:
    return "" if not row.get("front") else "yes" if row["separated"] else "within noise"


def _pct(stat: tuple[float, float] | None) -> str:
    if stat is None or math.isnan(stat[0]):
        return "-"
    return f"{100 * stat[0]:.2f}" + ("" if math.isnan(stat[1]) else f" ± {100 * stat[1]:.2f}")


def _seconds(stat: tuple[float, float]) -> str:
    return f"{stat[0]:.0f}" + ("" if math.isnan(stat[1]) else f" ± {stat[1]:.0f}")


def headers(rows: Sequence[dict[str, Any]]) -> list[str]:
    radii = [k[3:] for k in (rows[0] if rows else {}) if k.startswith("pr@")] or [f"{e:g}" for e in RADII]
    return ["method", "front", "seeds", "clean %", *[f"PR@{e} % [CI]" for e in radii], "AR PGD-20 %",
            "AR strong %", *[f"ProbAcc({k:g}) %" for k in KAPPAS], "cert. ProbAcc(0.05) %", "GE acc %", "GE PR %",
            "train s", "eval s"]


def table_rows(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    out = []
    for r in rows:
        if "clean" not in r:
            out.append([r["method"], "", "0", *["-"] * (len(headers(rows)) - 3)])
            continue
        radii = [k[3:] for k in r if k.startswith("pr@")]
        prs = [f"{_pct(r['pr@' + e])} [{100 * r['ci@' + e][0]:.1f}, {100 * r['ci@' + e][1]:.1f}]" for e in radii]
        seeds = f"{r['seeds']}" + (f" ({r['errors']} err)" if r["errors"] else "")
        out.append([r["method"], _front_cell(r), seeds,
                    _pct(r["clean"]), *prs, _pct(r["ar_pgd20"]), _pct(r["ar_strong"]),
                    *[_pct(r[f"probacc@{k:g}"]) for k in KAPPAS], _pct(r["certacc@0.05"]), _pct(r["ge_acc"]),
                    _pct(r["ge_pr"]), _seconds(r["train_s"]),
                    f"{r['eval_s'][0]:.0f}"])
    return out


def describe(config: dict[str, Any]) -> str:
    n = "all" if config["n_train"] is None else f"the first {config['n_train']}"
    return (f"{config['bench_version']}: {config['dataset']} ({n} training images), {config['arch']}, "
            f"training radius eps = {config['eps']:g}, {config['epochs']} epochs of Adam (lr {config['lr']:g}, batch "
            f"{config['batch_size']}) for every method, seeds {config['seeds']}; protocol: {config['mc_samples']} MC "
            f"samples per input on the first {config['n_pr']} test images, AR on the first {config['n_ar']}, "
            f"strong attack {config['restarts']} x PGD-{config['strong_steps']}")


_NOTE = ("Mean ± sd over seeds. PR: PRBench's number (mean over correctly classified inputs of the 100-sample MC "
         "estimate), with the mean over seeds of the per-seed 95% empirical-Bernstein interval in brackets. ProbAcc "
         "and certified ProbAcc at the training radius. front: on the Pareto front of (PR at the training radius, "
         "strong AR, clean accuracy), method means: yes when the evaluation's 95% intervals separate the method from "
         "every other on some objective, within noise when they do not (PR: empirical Bernstein; AR, clean accuracy: "
         "Clopper-Pearson over the evaluated inputs, pooled over seeds). GE: train minus test (first n images of "
         "each split).")


def markdown(rid: str, config: dict[str, Any], cells: Sequence[dict[str, Any]]) -> str:
    rows = summarize(cells)
    errors = [f"- {r['method']}: {m.splitlines()[0]}" for r in rows for m in r["messages"]]
    return "\n".join([f"# Training leaderboard (run {rid})", "", describe(config) + ".", "",
                      f"Hardware: {hardware_line(config)}.", "", markdown_table(headers(rows), table_rows(rows)), "",
                      _NOTE, "", *(["Errors:", *errors, ""] if errors else []), f"probust {config['probust']}", ""])


def figure(rows: Sequence[dict[str, Any]]) -> str:
    """PR against strong AR per method, with the 95% intervals of the evaluation as error bars."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for r in rows:
        if "clean" not in r:
            continue
        x, y = 100 * r["ar_strong"][0], 100 * r["pr_train"][0]
        (xl, xh), (yl, yh) = (tuple(100 * v for v in r["intervals"][k]) for k in ("ar_strong", "pr_train"))
        marker = "*" if r["separated"] else "o"
        ax.errorbar(x, y, xerr=[[max(x - xl, 0)], [max(xh - x, 0)]], yerr=[[max(y - yl, 0)], [max(yh - y, 0)]],
                    fmt=marker, ms=10 if r["separated"] else 6, capsize=2, mfc="none" if not r["front"] else None)
        ax.annotate(r["method"], (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("AR, strong attack (%)")
    ax.set_ylabel("PR at the training radius (%)")
    ax.set_title("methods with their 95% intervals. Pareto front of (PR, AR, clean accuracy): star, beyond noise;\n"
                 "filled circle, on the front of the means but within noise; hollow circle, off the front", fontsize=9)
    return figure_data_url(fig)


def html_page(rid: str, config: dict[str, Any], cells: Sequence[dict[str, Any]]) -> str:
    rows = summarize(cells)
    img = figure(rows) if any("clean" in r for r in rows) else ""
    return html_document(f"Training leaderboard {rid}", f"""<h1>Training leaderboard</h1>
<p>{html.escape(describe(config))} &middot; run <code>{rid}</code></p>
<p>Hardware: {html.escape(hardware_line(config))}</p>
{html_table(headers(rows), table_rows(rows))}<p>{html.escape(_NOTE)}</p>
{f'<img alt="PR against AR" src="{img}">' if img else ''}
<p>probust {html.escape(config['probust'])}</p>""")
