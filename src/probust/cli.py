"""The ``probust`` command: ``evaluate`` and ``certify`` a set of inputs, ``list`` what is available.

Example::

    probust evaluate --model mnist-cnn --dataset mnist --indices 0:20 \\
        --perturbation uniform-linf:eps=0.1,clip=0:1 --budget 100000 --confidence 0.99 --json out.json

Each input ``i`` is estimated with the seed ``derive_seed(seed, i)``, so its result does not depend on
which other inputs are in the run. Every :class:`~probust.errors.ProbustError` (and every usage error)
ends the program with a one-line ``error: ...`` on stderr and exit code 2; Ctrl-C exits with 130, after
printing and writing the inputs finished so far (the JSON report then has ``summary.partial``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from rich import box
from rich.table import Column, Table
from rich.text import Text

from . import __version__, _commands, api, zoo
from ._allocator import keep_freed_memory
from ._files import write_json_atomic
from .bench import commands as bench_commands
from .campaign import commands as campaign_commands
from .case_study import commands as case_study_commands
from .components import KINDS, example_of, registry
from .errors import ProbustError
from .estimators import SequentialCertifier
from .reliability import commands as reliability_commands
from .result import CertifyResult, Result
from .training import commands as training_commands

#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130
EXIT_ERROR = 2
_REFERENCE = {"prediction": "the model's prediction at the clean input", "dataset": "the true label",
              "vnnlib": "none, the failure is the VNNLIB output constraints; x is the box centre"}


# -- argument parsing ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``probust`` command and its sub-commands."""
    parser = _commands.Parser(prog="probust", description="Probabilistic robustness of deep-learning models.")
    parser.add_argument("--version", action="version", version=f"probust {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    evaluate = commands.add_parser("evaluate", help="estimate the local failure probability / PR of inputs")
    _commands.add_task_options(evaluate, vnnlib=True)
    _commands.add_estimate_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    certify = commands.add_parser("certify", help="decide whether the failure probability is <= THETA")
    _commands.add_task_options(certify, vnnlib=True)
    certify.add_argument("--max-failure", type=float, required=True, metavar="THETA",
                         help="threshold on the failure probability: the claim is PR >= 1 - THETA")
    certify.add_argument("--budget", type=_commands.count, default=1_000_000,
                         help="maximum queries per input (default: 1000000)")
    certify.add_argument("--confidence", type=float, default=0.99,
                         help="confidence of the decision (default: 0.99)")
    certify.set_defaults(handler=_certify)

    listing = commands.add_parser("list", help="list zoo models, data sets, perturbations and estimators")
    listing.set_defaults(handler=_list)
    campaign_commands.register(commands)
    # The registration hook: a package may extend another's command with the action group that command returns.
    # training adds `bench training` here, so bench never imports training (the layering of tests/test_architecture.py).
    training_commands.register_bench(bench_commands.register(commands))
    reliability_commands.register(commands)
    training_commands.register(commands)
    case_study_commands.register(commands)
    return parser


# -- commands ------------------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    estimator = _commands.make_estimator(args.estimator, args.interval)
    options = _commands.estimate_options(args)  # checked before anything loads
    task = _commands.prepare(args, estimator)
    call = functools.partial(
        api.estimate, estimator=estimator, budget=task.budget, confidence=task.confidence, **options,
    )
    return _run_and_report(task, argv, call, _estimate_summary, _print_estimates)


def _certify(args: argparse.Namespace, argv: list[str]) -> int:
    certifier = SequentialCertifier(max_failure=args.max_failure)  # validates THETA before loading anything
    task = _commands.prepare(args, certifier, max_failure=certifier.max_failure)
    call = functools.partial(
        api.certify, max_failure=certifier.max_failure, budget=task.budget, confidence=task.confidence
    )
    return _run_and_report(task, argv, call, _certify_summary, _print_certificates)


def _run_and_report(task: _commands.Task, argv: list[str], call: Callable[..., Result],
                    summarise: Callable[[Any], dict[str, Any]], show: Callable[..., None]) -> int:
    """Run every input, print the table and write the JSON report.

    On Ctrl-C after at least one input, the finished rows are printed and written (atomically), the report
    marked ``summary.partial``; the exit status is still 130, so a script sees the run did not complete.
    """
    selected = len(task.indices)
    try:
        results = _commands.run_task(task, call)
    except _commands.Interrupted as stop:
        if not stop.results:
            raise
        results = stop.results
        task = dataclasses.replace(task, indices=task.indices[: len(results)])
    partial = len(results) < selected
    summary = {**summarise(results), **_clean_accuracy(task, results),
               **({"partial": {"finished": len(results), "selected": selected}} if partial else {})}
    show(task, results, summary)
    _write_report(task, argv, results, summary)
    if not partial:
        return 0
    saved = f"; {task.json_path} holds them, marked partial" if task.json_path is not None else ""
    print(f"error: interrupted after {len(results)} of {selected} inputs: the table shows the finished ones{saved}",
          file=sys.stderr)
    return EXIT_INTERRUPTED


#: The registries ``probust list`` shows, with the option that takes their specs.
LISTED = {"perturbation": ("Perturbations", "--perturbation"), "estimator": ("Estimators", "--estimator"),
          "property": ("Failure properties", "--failure"), "method": ("Training methods", "train --method")}


def _list(args: argparse.Namespace, argv: list[str]) -> int:
    console = _commands.stdout_console()
    models = Table("model", "data set", "input shape", "test score", title="Zoo models (--model)")
    for name in zoo.list_models():
        info = zoo.model_info(name)
        models.add_row(name, info["dataset"], "x".join(map(str, info["input_shape"])), _test_score(info))
    console.print(models)
    console.print(f"Zoo data sets: {', '.join(zoo.list_datasets())} (splits: train, test, all)")
    for kind, (title, flag) in LISTED.items():
        table = Table(KINDS[kind], "example spec", "parameters", "description", title=f"{title} ({flag})")
        for name, cls in registry(kind).items():
            keys = [*cls.spec_fields(), *getattr(cls, "spec_options", ())]
            table.add_row(name, example_of(cls), ", ".join(keys), _summary_line(cls))
        console.print(table)
    return 0


def _test_score(info: dict[str, Any]) -> str:
    """A zoo model's recorded test score: accuracy for a classifier, RMSE for a regression model."""
    return f"{info['test_accuracy']:.2%} accuracy" if "test_accuracy" in info else f"RMSE {info['test_rmse']:.2f}"


def _summary_line(obj: object) -> str:
    return (obj.__doc__ or "").strip().splitlines()[0].replace("``", "")  # no reST markup in a terminal


# -- output --------------------------------------------------------------------------------------------
def _results_table(task: _commands.Task, title: str, headers: Sequence[str]) -> Table:
    """A table whose first columns identify the input (index, true label if known, reference label)."""
    labels = ["index", *([] if task.y is None else ["label"]), "ref"]
    # Short headers and no edge padding: nine columns of numbers fit an 80-column terminal; on a narrower
    # one numbers fold instead of being cut with an ellipsis.
    columns = [Column(h, justify="right", overflow="fold") for h in (*labels, *headers)]
    caption = [
        *([] if task.y is None else ["label: true label"]),
        f"ref: reference label ({_REFERENCE[task.label_source]})",
        f"p: failure probability (1 - PR) with its {task.confidence:g} interval [p low, p high]",
    ]
    # Text objects: spec strings and brackets are not rich markup.
    return Table(*columns, title=Text(title), caption=Text("; ".join(caption)), caption_justify="left",
                 box=box.SIMPLE_HEAD, pad_edge=False)


def _label_cells(task: _commands.Task, index: int, result: Result) -> list[str]:
    true = [] if task.y is None else [str(int(task.y[index]))]
    return [str(index), *true, "?" if result.label is None else str(result.label)]


def _interval_cells(result: Result) -> list[str]:
    return [f"{result.failure_probability:.4g}", f"{result.ci.low:.4g}", f"{result.ci.high:.4g}"]


def _sound_cells(result: Result) -> list[str]:
    """bab's sound bound on p beside the interval ("-" where nothing is proven, or for other estimators)."""
    bound = getattr(result, "sound_bound", None)
    return [f"{bound[0]:.4g}", f"{bound[1]:.4g}"] if bound else ["-", "-"]


#: What the sound columns mean (shown only when some result has a sound bound).
_SOUND_NOTE = ("sound low, sound high: bab's bounds on p that hold for the model itself (the mass of the input "
               "boxes proven failing; plus the mass left undecided), with no sampling")


def _cost_cells(result: Result) -> list[str]:
    return [f"{result.n_queries:,}", f"{result.seconds:.2f}"]


#: What the interval means for estimators whose result is a bound rather than a confidence interval.
_BOUND_NOTES = {
    "deterministic": "[p low, p high] is certified (a deterministic bound): it holds for the model itself",
    "pac": "[p low, p high] is a PAC bound: it holds with probability >= {confidence:g} over the samples drawn",
}


#: What a run that did not complete means (the status column, shown only when some run did not complete).
_STATUS_NOTES = {
    "stalled": "stalled: no failure region found (the levels stopped rising below the failure threshold)",
    "budget-exhausted": "budget-exhausted: the levels were still rising: failures may exist beyond this budget "
                        "(raise --budget)",
    "unreliable": "WARNING unreliable: a diagnostic of the estimator failed (see the warnings in --json); do not "
                  "use that interval for a claim",
}

#: What the interval rests on (the basis column): exact and sound need no note.
_GUARANTEE_NOTE = ("model-based: the interval holds only if the estimator's chains mix and reach every failure mode; "
                   "the i.i.d. draws alone give p <= {upper:.3g} at {confidence:g} (the largest such bound over "
                   "these inputs)")


def _print_estimates(task: _commands.Task, results: Sequence[Result], summary: dict[str, Any]) -> None:
    unfinished = sorted({r.status for r in results} & set(_STATUS_NOTES))
    sound = any(getattr(r, "sound_bound", None) for r in results)
    table = _results_table(task, f"probust evaluate: {task.title}",
                           ["p", "p low", "p high", *(["sound low", "sound high"] if sound else []), "PR", "basis",
                            "queries", "sec", *(["status"] if unfinished else [])])
    for index, r in zip(task.indices, results, strict=True):
        table.add_row(*_label_cells(task, index, r), *_interval_cells(r), *(_sound_cells(r) if sound else []),
                      f"{r.pr:.6g}", r.guarantee, *_cost_cells(r), *([r.status] if unfinished else []))
    console = _commands.stdout_console()
    console.print(table)
    if sound:
        console.print(Text(_SOUND_NOTE))
    for kind in sorted({r.bound_kind for r in results} & set(_BOUND_NOTES)):
        console.print(Text(_BOUND_NOTES[kind].format(confidence=task.confidence)))
    uppers = [r.unconditional_upper for r in results if r.guarantee == "model-based"]
    if uppers:
        console.print(Text(_GUARANTEE_NOTE.format(upper=max(u for u in uppers if u is not None),
                                                  confidence=task.confidence)))
    for status in unfinished:
        console.print(Text(_STATUS_NOTES[status]))
    console.print(f"mean PR {summary['mean_pr']:.4f} over {_inputs(summary['n_inputs'])}{_accuracy_text(summary)}; "
                  f"{summary['total_queries']:,} queries in {summary['total_seconds']:.1f} s")


def _print_certificates(task: _commands.Task, results: Sequence[CertifyResult], summary: dict[str, Any]) -> None:
    theta = task.config["max_failure"]
    table = _results_table(task, f"probust certify: p <= {theta:g}? {task.title}",
                           ["decision", "p", "p low", "p high", "queries", "sec"])
    for index, r in zip(task.indices, results, strict=True):
        table.add_row(*_label_cells(task, index, r), r.decision, *_interval_cells(r), *_cost_cells(r))
    console = _commands.stdout_console()
    console.print(table)
    console.print(f"{summary['robust']} robust, {summary['not_robust']} not robust, {summary['undecided']} "
                  f"undecided out of {_inputs(summary['n_inputs'])}{_accuracy_text(summary)}; "
                  f"{summary['total_queries']:,} queries in "
                  f"{summary['total_seconds']:.1f} s")


def _clean_accuracy(task: _commands.Task, results: Sequence[Result]) -> dict[str, Any]:
    """``clean_accuracy``: how many inputs the model classifies right, next to every PR summary (issue 26).

    PR is measured around the model's own prediction, right or wrong, so a model that predicts one class
    everywhere has PR 1: the headline must not hide that. Only with true labels and ``--label prediction``.
    """
    if task.y is None or task.label_source != "prediction":
        return {}
    pairs = [(int(task.y[i]), r.label) for i, r in zip(task.indices, results, strict=True) if r.label is not None]
    return {"clean_accuracy": {"correct": sum(y == label for y, label in pairs), "inputs": len(pairs)}} if pairs else {}


def _accuracy_text(summary: dict[str, Any]) -> str:
    if "clean_accuracy" not in summary:
        return ""
    k, n = summary["clean_accuracy"]["correct"], summary["clean_accuracy"]["inputs"]
    wrong = f" (PR is measured around each prediction, and {n - k} of them are wrong)" if k < n else ""
    return f"; clean accuracy {k}/{n}{wrong}"


def _inputs(n: int) -> str:
    return f"{n} input" if n == 1 else f"{n} inputs"


def _totals(results: Sequence[Result]) -> dict[str, Any]:
    return {
        "n_inputs": len(results),
        "total_queries": sum(r.n_queries for r in results),
        "total_seconds": sum(r.seconds for r in results),
    }


def _estimate_summary(results: Sequence[Result]) -> dict[str, Any]:
    prs = [r.pr for r in results]
    statuses = [r.status for r in results]
    return {**_totals(results), "mean_pr": math.fsum(prs) / len(prs), "min_pr": min(prs),
            "statuses": {s: statuses.count(s) for s in sorted(set(statuses))}}


def _certify_summary(results: Sequence[CertifyResult]) -> dict[str, Any]:
    decisions = [r.decision for r in results]
    counts = {key.replace(" ", "_"): decisions.count(key) for key in ("robust", "not robust", "undecided")}
    return {**_totals(results), **counts}


def _write_report(task: _commands.Task, argv: list[str], results: Sequence[Result], summary: dict[str, Any]) -> None:
    if task.json_path is None:
        return
    write_json_atomic(task.json_path, {
        "probust_version": __version__,
        "command": ["probust", *argv],
        "config": task.config,
        "results": [
            {"index": i, "true_label": None if task.y is None else int(task.y[i]), "result": r.to_dict()}
            for i, r in zip(task.indices, results, strict=True)
        ],
        "summary": summary,
    })


# -- entry point ---------------------------------------------------------------------------------------
def _warn_on_one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: Any = None, line: str | None = None) -> None:
    """A warning as the command's user reads it: ``warning: ...`` on one line (not Python's file:line + source)."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    """Run the ``probust`` command line and return its exit status.

    Parameters
    ----------
    argv
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a usage or probust error (one line on stderr), 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    keep_freed_memory()  # the command owns its process: reuse activation buffers (about 2x faster on CPU)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_on_one_line
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as done:  # --help and --version print and exit
                return int(done.code or 0)
            return args.handler(args, argv)
    except ProbustError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message
        return EXIT_ERROR
    except KeyboardInterrupt as stop:
        print(f"error: interrupted; {getattr(stop, 'saved', 'no report was written')}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
