"""The PR-Bench leaderboard: a terminal table, Markdown, and a self-contained HTML page with a figure.

The rows come from :func:`probust.bench.scoring.summarize` over the cells of one run; the page also shows
the protocol, the hardware the times were measured on (the comparability rule) and a per-case table.
Decision procedures (components tagged ``decision``: provero, sequential) answer "is p <= theta?" and report a
one-sided interval, not an estimate: they are not ranked by |log10 error| with the estimators but get their own
table (how often their decision was right, how often they did not decide, at what cost).
The figure (|log10 error| against queries, one colour per estimator) is a matplotlib PNG embedded as
base64 (:mod:`probust.reporting`), so the page can be mailed or archived on its own.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .._sqlite import config_id
from .._version import __version__
from ..estimators import ESTIMATORS
from ..reporting import figure_data_url, hardware_line, html_document, html_table, markdown_table, plt
from .cases import CASES
from .scoring import CellScore, EstimatorScore, score_cell, summarize
from .store import BenchStore

#: Where a zero estimate (|log10 error| = inf) and an error below it are drawn in the figure.
_CEILING, _FLOOR = 20.0, 1e-4
HEADERS = ("estimator", "median |log10 err|", "worst", "median rel. RMSE", "coverage (95% CI)",
           "hard-landscape coverage", "violations", "zeros", "unreliable", "unsupported", "errors", "mean queries",
           "mean s")


#: The columns of the decision procedures' table.
DECISION_HEADERS = ("procedure", "decision right (95% CI)", "undecided", "unsupported", "errors", "mean queries",
                    "mean s")


def is_decision(name: str) -> bool:
    """Whether a bench estimator (a name or a spec such as ``provero:theta=0.05``) is a decision procedure (a yes/no
    test with a one-sided interval)."""
    base = name.split(":", 1)[0]
    return base in ESTIMATORS and "decision" in ESTIMATORS[base].tags


def split(rows: Sequence[EstimatorScore]) -> tuple[list[EstimatorScore], list[EstimatorScore]]:
    """The rows of the estimators (ranked by error) and of the decision procedures (ranked apart)."""
    return [r for r in rows if not is_decision(r.estimator)], [r for r in rows if is_decision(r.estimator)]


def decision_cells(r: EstimatorScore, cells: Sequence[CellScore]) -> list[str]:
    """A decision procedure's row: its one-sided interval holds the gold p when its decision is right (an
    undecided run's interval is [0, 1], counted apart)."""
    ok = [c for c in cells if c.estimator == r.estimator and c.status == "ok"]
    undecided = sum(c.ci_low <= 0 and c.ci_high >= 1 for c in ok)
    right = (f"{r.coverage:.2f} [{r.coverage_low:.2f},{r.coverage_high:.2f}] n={r.coverage_cells}"
             if r.coverage_cells else "-")
    return [r.estimator, right, str(undecided), str(r.cells_unsupported), str(r.cells_error),
            _f(r.mean_queries, ",.0f"), _f(r.mean_seconds, ".2f")]


_DECISION_NOTE = ("Decision procedures answer \"is p <= theta?\" and report a one-sided interval, not an estimate: "
                  "they are not ranked by |log10 error|. Decision right: share of runs whose interval holds the gold "
                  "p, with its exact 95% interval (undecided runs, interval [0, 1], count as right and are also "
                  "counted apart).")


def load(store: BenchStore, run: str | None = None) -> tuple[str, dict[str, Any], list[CellScore]]:
    """The run's id, its configuration and its scored cells (those stored so far)."""
    rid, config = store.run_config(run)
    proto = config["protocol"]
    keys = {(cid, ver, name, config_id(params), proto["budget"], proto["confidence"], r)
            for cid, ver in config["cases"] for name, params in config["estimators"].items()
            for r in range(proto["repeats"])}
    cases = {c.id: c for c in CASES.values()}
    rows = [row for row in store.cells(keys) if row["case_id"] in cases]
    scored = [score_cell(row, cases[row["case_id"]]) for row in rows]
    # cells are shared between runs: say so when some were timed on another machine than the run's record
    config = {**config, "cell_hardware": sorted({row["hardware"] for row in rows})}
    return rid, config, scored


def _f(v: float, fmt: str = ".3g") -> str:
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return format(v, fmt)


def row_cells(r: EstimatorScore, nominal: float) -> list[str]:
    """A leaderboard row as strings (the same in the terminal, Markdown and HTML)."""
    cov = (f"{r.coverage:.2f} [{r.coverage_low:.2f},{r.coverage_high:.2f}] n={r.coverage_cells}"
           if r.coverage_cells else "- (bounds)")
    hard = (f"{r.landscape_coverage:.2f} [{r.landscape_low:.2f},{r.landscape_high:.2f}] n={r.landscape_cells}"
            if r.landscape_cells else "-")  # no landscape cell in the run, or only sound bounds there
    viol = f"{r.violations}/{r.bound_cells}" if r.bound_cells else "-"
    return [r.estimator, _f(r.median_abs_log10_error), _f(r.worst_abs_log10_error), _f(r.median_rel_rmse), cov,
            hard, viol, str(r.zeros), str(r.unreliable), str(r.cells_unsupported), str(r.cells_error),
            _f(r.mean_queries, ",.0f"), _f(r.mean_seconds, ".2f")]


def protocol_line(config: dict[str, Any]) -> str:
    p = config["protocol"]
    return (f"{config['bench_version']}: {len(config['cases'])} cases x {len(config['estimators'])} estimators x "
            f"R = {p['repeats']} repetitions, budget {p['budget']:,} queries, nominal confidence {p['confidence']}")


def suite_table(rows: Sequence[EstimatorScore]) -> tuple[list[str], list[list[str]]]:
    suites = sorted({s for r in rows for s in r.suite_median})
    return (["estimator", *[f"{s}: median |log10 err|" for s in suites]],
            [[r.estimator, *[_f(r.suite_median.get(s, math.nan)) for s in suites]] for r in rows])


def case_table(cells: Sequence[CellScore]) -> tuple[list[str], list[list[str]]]:
    """Per case: gold p and each estimator's median |log10 error| (x = unsupported, ! = error)."""
    estimators = list(dict.fromkeys(c.estimator for c in cells))
    groups: dict[tuple[str, str], list[CellScore]] = defaultdict(list)
    for c in cells:
        groups[(c.case_id, c.estimator)].append(c)
    case_ids = list(dict.fromkeys(c.case_id for c in cells))
    gold = {c.case_id: c.gold for c in cells}
    body = []
    for cid in case_ids:
        row = [cid, f"{gold[cid]:.3g}"]
        for e in estimators:
            cs = groups.get((cid, e), [])
            ok = [abs(c.log10_error) for c in cs if c.status == "ok"]
            row.append(_f(sorted(ok)[len(ok) // 2]) if ok else ("x" if any(c.status == "unsupported" for c in cs)
                                                                 else "!" if cs else ""))
        body.append(row)
    return ["case", "gold p", *estimators], body


def markdown(rid: str, config: dict[str, Any], cells: Sequence[CellScore]) -> str:
    rows, decisions = split(summarize(cells))
    nominal = config["protocol"]["confidence"]
    table = markdown_table(DECISION_HEADERS, [decision_cells(r, cells) for r in decisions])
    decided = ["", "## Decision procedures", "", table, "", _DECISION_NOTE] if decisions else []
    out = [f"# PR-Bench leaderboard (run {rid})", "", protocol_line(config) + ".", "",
           f"Hardware: {hardware_line(config)}.", "", markdown_table(HEADERS, [row_cells(r, nominal) for r in rows]),
           "", "Coverage: share of statistical intervals containing the gold value, with its exact 95% interval; "
           f"nominal {nominal}. Hard-landscape coverage: the same over the cells of suite `landscape` only (- if "
           "none). Violations: sound bounds below the gold value (must be 0). Zeros: estimates of 0. Unreliable: "
           "results whose own diagnostics failed (status `unreliable`).", *decided,
           "", "## By suite", "", markdown_table(*suite_table(rows)), "", "## By case (median |log10 error|)", "",
           markdown_table(*case_table(_estimator_cells(cells))), "", f"probust {__version__}", ""]
    return "\n".join(out)


def error_figure(cells: Sequence[CellScore]) -> str:
    """|log10 error| against queries per cell, one colour per estimator (base64 PNG data URL)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    estimators = list(dict.fromkeys(c.estimator for c in cells))
    markers = "osD^v<>ph*"
    for k, name in enumerate(estimators):
        ok = [c for c in cells if c.estimator == name and c.status == "ok"]
        if not ok:
            continue
        xs = [max(c.n_queries, 1) for c in ok]  # bounds make no query: drawn at 1
        ys = [min(max(abs(c.log10_error), _FLOOR), _CEILING) for c in ok]
        ax.scatter(xs, ys, s=14, alpha=0.6, marker=markers[k % len(markers)], label=name)
    ax.axhline(_CEILING, color="#999", lw=0.8, ls="--")
    ax.text(0.01, _CEILING * 0.6, "zero estimate (inf)", fontsize=8, color="#666", transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("queries per run (0 drawn at 1)")
    ax.set_ylabel("|log10(estimate / gold)|")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("error versus cost, every cell of the run")
    return figure_data_url(fig)


def html_page(rid: str, config: dict[str, Any], cells: Sequence[CellScore]) -> str:
    rows, decisions = split(summarize(cells))
    estimated = _estimator_cells(cells)
    table = html_table(DECISION_HEADERS, [decision_cells(r, cells) for r in decisions])
    decided = f"<h2>Decision procedures</h2>{table}<p>{html.escape(_DECISION_NOTE)}</p>" if decisions else ""
    nominal = config["protocol"]["confidence"]
    figure = error_figure(estimated) if estimated else ""
    return html_document(f"PR-Bench leaderboard {rid}", f"""<h1>PR-Bench leaderboard</h1>
<p>{html.escape(protocol_line(config))} &middot; run <code>{rid}</code></p>
<p>Hardware (times are comparable only on the same): {html.escape(hardware_line(config))}</p>
{html_table(HEADERS, [row_cells(r, nominal) for r in rows])}
<p>Coverage: share of statistical intervals that contain the gold value, with the exact 95% interval of that share
(nominal {nominal}); hard-landscape coverage: the same over the cells of suite <code>landscape</code> only (- if none).
Violations: sound (deterministic) bounds below the gold value; they must be 0. Unreliable: results whose own
diagnostics failed (status <code>unreliable</code>): their interval is not for a claim.</p>
{decided}
{f'<img alt="error versus queries" src="{figure}">' if figure else ''}
<h2>By suite</h2>{html_table(*suite_table(rows))}
<h2>By case: median |log10 error|</h2><p>x: the estimator does not support the case; !: it failed.</p>
{html_table(*case_table(estimated))}
<p>probust {__version__}</p>""")


def _estimator_cells(cells: Sequence[CellScore]) -> list[CellScore]:
    """The cells of the estimators: errors of a decision procedure's one-sided interval mean nothing."""
    return [c for c in cells if not is_decision(c.estimator)]

