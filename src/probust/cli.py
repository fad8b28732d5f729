"""The ``probust`` command: ``evaluate`` and ``certify`` a set of inputs, ``list`` what is available.

Example::

    probust evaluate --model mnist-cnn --dataset mnist --indices 0:20 \\
        --perturbation uniform-linf:eps=0.1,clip=0:1 --budget 100000 --confidence 0.99 --json out.json

Each input ``i`` is estimated with the seed ``derive_seed(seed, i)``, so its result does not depend on
which other inputs are in the run. Every :class:`~probust.errors.ProbustError` (and every usage error)
ends the program with a one-line ``error: ...`` on stderr and exit code 2; Ctrl-C exits with 130.
No JSON report is written unless every input finished.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from . import __version__, _rng, api, zoo
from ._allocator import keep_freed_memory
from ._io import check_output_path, load_inputs, load_model, parse_indices, write_json_atomic
from .errors import ConfigurationError, DataError, ProbustError
from .estimators import ESTIMATORS, Estimator, SequentialCertifier, get_estimator
from .intervals import METHODS, check_confidence
from .perturbations import PERTURBATIONS, Perturbation, parse_perturbation
from .querying import Model, check_budget
from .result import CertifyResult, Result

#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130
EXIT_ERROR = 2
_REFERENCE = {"prediction": "the model's prediction at the clean input", "dataset": "the true label"}
#: Width of tables written to a pipe or file, where rich cannot ask the terminal (its default is 80).
_PIPE_WIDTH = 160


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors become one-line ``ConfigurationError``s (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigurationError(f"{message} (see '{self.prog} --help')")


@dataclasses.dataclass(frozen=True)
class Task:
    """Everything a run needs, validated and loaded before the first query."""

    model: Model
    x: torch.Tensor
    y: torch.Tensor | None
    indices: list[int]
    perturbation: Perturbation
    seed: int
    budget: int
    confidence: float
    label_source: str
    batch_size: int | None
    device: str | None
    json_path: Path | None
    quiet: bool
    config: dict[str, Any]


# -- argument parsing ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``probust`` command and its sub-commands."""
    parser = _Parser(prog="probust", description="Probabilistic robustness of deep-learning models.")
    parser.add_argument("--version", action="version", version=f"probust {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    evaluate = commands.add_parser("evaluate", help="estimate the local failure probability / PR of inputs")
    _add_task_options(evaluate)
    _add_estimate_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    certify = commands.add_parser("certify", help="decide whether the failure probability is <= THETA")
    _add_task_options(certify)
    certify.add_argument("--max-failure", type=float, required=True, metavar="THETA",
                         help="threshold on the failure probability: the claim is PR >= 1 - THETA")
    certify.add_argument("--budget", type=_count, default=1_000_000,
                         help="maximum queries per input (default: 1000000)")
    certify.add_argument("--confidence", type=float, default=0.99,
                         help="confidence of the decision (default: 0.99)")
    certify.set_defaults(handler=_certify)

    listing = commands.add_parser("list", help="list zoo models, data sets, perturbations and estimators")
    listing.set_defaults(handler=_list)
    _add_campaign_commands(commands)
    _add_bench_commands(commands)
    return parser


def _add_estimate_options(parser: argparse.ArgumentParser) -> None:
    """Options of commands that estimate failure probabilities (``evaluate``, ``campaign run``)."""
    parser.add_argument("--estimator", default="mc", help=f"one of {', '.join(ESTIMATORS)} (default: mc)")
    parser.add_argument("--interval", choices=METHODS, help="interval method of the estimator (mc only)")
    parser.add_argument("--budget", type=_count, default=10_000, help="queries per input (default: 10000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default: 0.95)")


def _add_scale_options(parser: argparse.ArgumentParser) -> None:
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=int, metavar="N",
                       help="run on a local Dask cluster of N single-threaded worker processes")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler (tcp://host:port)")


def _add_campaign_commands(commands: Any) -> None:
    """``probust campaign run | resume | status | report`` (handlers in :mod:`probust.campaign.commands`)."""
    from .campaign import commands as handlers

    campaign = commands.add_parser("campaign", help="data-set campaigns stored in a results database (SQLite)")
    actions = campaign.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="estimate every selected input, storing each result as soon as it is done")
    _add_task_options(run)
    _add_estimate_options(run)
    run.add_argument("--db", required=True, metavar="PATH", help="results database (created if absent)")
    _add_scale_options(run)
    run.set_defaults(handler=handlers.run)
    resume = actions.add_parser("resume", help="continue an interrupted campaign where it stopped")
    resume.add_argument("--db", required=True, metavar="PATH")
    resume.add_argument("--campaign", metavar="ID", help="campaign id (default: the only one in the database)")
    resume.add_argument("--batch-size", type=int, help="model batch size (default: automatic)")
    resume.add_argument("--device", help="torch device of the model (default: the model's)")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_scale_options(resume)
    resume.set_defaults(handler=handlers.resume)
    status = actions.add_parser("status", help="how many inputs are finished")
    status.add_argument("--db", required=True, metavar="PATH")
    status.add_argument("--campaign", metavar="ID")
    status.add_argument("--json", action="store_true", help="print JSON: {total, finished, ...}")
    status.set_defaults(handler=handlers.status)
    report = actions.add_parser("report", help="write an HTML report and CSV / JSON exports")
    report.add_argument("--db", required=True, metavar="PATH")
    report.add_argument("--campaign", metavar="ID")
    report.add_argument("--html", metavar="PATH", help="self-contained HTML page with figures")
    report.add_argument("--csv", metavar="PATH", help="one row per finished input")
    report.add_argument("--json", metavar="PATH", help="summary, configuration and every result")
    report.add_argument("--op-split", metavar="SPLIT",
                        help="weight by an operational profile estimated from this split of the campaign's data "
                             "set (k-means cells in the model's penultimate-layer features)")
    report.add_argument("--op-cells", type=int, default=10, metavar="K", help="cells of the profile (default 10)")
    report.set_defaults(handler=handlers.report)


def _add_bench_commands(commands: Any) -> None:
    """``probust bench run | leaderboard | list`` (handlers in :mod:`probust.bench.commands`)."""
    from .bench import commands as handlers

    bench = commands.add_parser("bench", help="PR-Bench: score every estimator on gold-standard cases")
    actions = bench.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run (or resume) the benchmark, storing each cell as it finishes")
    run.add_argument("--quick", action="store_true", help="the quick subset (CI): fewer cases, R=2, budget 20000")
    run.add_argument("--estimators", nargs="+", metavar="NAME",
                     help=f"estimators to score (default: every registered one: {', '.join(ESTIMATORS)})")
    run.add_argument("--cases", nargs="+", metavar="PATTERN",
                     help="case ids, suites (linear, relu, zoo) or wildcards like 'linear/gaussian/*'")
    run.add_argument("--repeats", type=int, metavar="R", help="repetitions per case (default: 4; quick 2)")
    run.add_argument("--budget", type=_count, metavar="B", help="queries per run (default: 100000; quick 20000)")
    run.add_argument("--confidence", type=float, help="nominal interval confidence (default: 0.95)")
    run.add_argument("--db", default=handlers.DEFAULT_DB, metavar="PATH",
                     help=f"results database (default: {handlers.DEFAULT_DB}; a campaign database works too)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=handlers.run)
    board = actions.add_parser("leaderboard", help="print the leaderboard of a run; write Markdown / HTML")
    board.add_argument("--db", default=handlers.DEFAULT_DB, metavar="PATH")
    board.add_argument("--run", metavar="ID", help="run id (default: the most recent run)")
    board.add_argument("--markdown", metavar="PATH", help="write the leaderboard as Markdown")
    board.add_argument("--html", metavar="PATH", help="write a self-contained HTML page with a figure")
    board.set_defaults(handler=handlers.leaderboard)
    listing = actions.add_parser("list", help="list the benchmark cases and their gold values")
    listing.add_argument("--quick", action="store_true", help="only the quick subset")
    listing.add_argument("--cases", nargs="+", metavar="PATTERN")
    listing.set_defaults(handler=handlers.list_cases)


def _add_task_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``evaluate`` and ``certify``: model, inputs, perturbation, execution, output."""
    parser.add_argument("--model", required=True,
                        help="zoo model name, or a TorchScript (.pt), state-dict (.pt/.pth, with --arch) "
                             "or .onnx file")
    parser.add_argument("--arch", help=f"architecture of a state-dict file: {', '.join(zoo.ARCHITECTURES)}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help=f"zoo data set: {', '.join(zoo.list_datasets())}")
    source.add_argument("--inputs", metavar="FILE",
                        help=".npy array (N x ...) or .npz with keys x and optional y")
    parser.add_argument("--split", help="data set split (default: test; only with --dataset)")
    parser.add_argument("--indices", help="A:B, :B, A:, I or a comma list like 1,5,9 (default: all)")
    parser.add_argument("--perturbation", required=True, metavar="SPEC",
                        help="e.g. uniform-linf:eps=0.1,clip=0:1 (see 'probust list')")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default: 0)")
    parser.add_argument("--batch-size", type=int, help="model batch size (default: automatic)")
    parser.add_argument("--device", help="torch device of the model, e.g. cpu or cuda (default: the model's)")
    parser.add_argument("--label", choices=("prediction", "dataset"), default="prediction",
                        help="reference label: the model's prediction (Definition 1, default) "
                             "or the true label")
    parser.add_argument("--json", metavar="PATH", help="write a JSON report once every input is done")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _count(text: str) -> int:
    """A count written as an integer or in float notation (``1e6``); the range is checked later."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


# -- commands ------------------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    estimator = _make_estimator(args.estimator, args.interval)
    task = _prepare(args, estimator)
    call = functools.partial(
        api.estimate, estimator=estimator, budget=task.budget, confidence=task.confidence
    )
    results = _run(task, call)
    summary = _estimate_summary(results)
    _print_estimates(task, results, summary)
    _write_report(task, argv, results, summary)
    return 0


def _certify(args: argparse.Namespace, argv: list[str]) -> int:
    certifier = SequentialCertifier(max_failure=args.max_failure)  # validates THETA before loading anything
    task = _prepare(args, certifier, max_failure=certifier.max_failure)
    call = functools.partial(
        api.certify, max_failure=certifier.max_failure, budget=task.budget, confidence=task.confidence
    )
    results = cast(list[CertifyResult], _run(task, call))
    summary = _certify_summary(results)
    _print_certificates(task, results, summary)
    _write_report(task, argv, results, summary)
    return 0


def _list(args: argparse.Namespace, argv: list[str]) -> int:
    console = _stdout_console()
    models = Table("model", "architecture", "data set", "input shape", "test accuracy", title="Zoo models")
    for name in zoo.list_models():
        info = zoo.model_info(name)
        models.add_row(name, info["architecture"], info["dataset"], "x".join(map(str, info["input_shape"])),
                       f"{info['test_accuracy']:.2%}")
    console.print(models)
    console.print(f"Zoo data sets: {', '.join(zoo.list_datasets())} (splits: train, test, all)")
    perturbations = Table("perturbation", "example spec", "description", title="Perturbations")
    for name, cls in PERTURBATIONS.items():
        perturbations.add_row(name, _example_spec(cls), _summary_line(cls))
    console.print(perturbations)
    estimators = Table("estimator", "description", title="Estimators (evaluate --estimator)")
    for name, cls in ESTIMATORS.items():
        estimators.add_row(name, _summary_line(cls))
    console.print(estimators)
    console.print(f"certify uses: {_summary_line(SequentialCertifier)}")
    return 0


def _example_spec(cls: type[Perturbation]) -> str:
    """A runnable spec: every required parameter set to 0.1, clipped to images in [0, 1]."""
    required = {
        f.name: 0.1 for f in dataclasses.fields(cls) if f.name != "clip" and f.default is dataclasses.MISSING
    }
    return cls(**required, clip=(0.0, 1.0)).to_spec()


def _summary_line(obj: object) -> str:
    return (obj.__doc__ or "").strip().splitlines()[0].replace("``", "")  # no reST markup in a terminal


# -- preparing a run -----------------------------------------------------------------------------------
def _make_estimator(name: str, interval: str | None) -> Estimator:
    """The named estimator, built with ``interval=`` when given (only estimators with that option)."""
    if name not in ESTIMATORS:
        raise ConfigurationError(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}")
    estimator = get_estimator(name)
    if interval is None:
        return estimator
    if "interval" not in {f.name for f in dataclasses.fields(estimator)}:
        raise ConfigurationError(f"--interval does not apply to estimator {name!r}; drop it")
    return dataclasses.replace(estimator, interval=interval)


def _prepare(args: argparse.Namespace, estimator: Estimator, **extra_config: Any) -> Task:
    """Validate every option, then load the model and the inputs (cheap checks first: fail fast).

    ``extra_config`` holds command-specific settings recorded in the report.
    """
    perturbation = parse_perturbation(args.perturbation)
    budget = check_budget(args.budget, estimator.min_budget)
    confidence = check_confidence(args.confidence)
    seed = _rng.resolve_seed(args.seed)
    _check_device(args.device)
    json_path = check_output_path(args.json) if args.json else None
    if args.split is not None and args.dataset is None:
        raise ConfigurationError("--split applies only to --dataset; drop it with --inputs")
    model = load_model(args.model, args.arch)
    if isinstance(model, torch.nn.Module) and args.device is not None:
        model.to(args.device)  # the estimator moves inputs to --device, the model must follow
    x, y, source = _load_data(args)
    indices = parse_indices(args.indices, len(x))
    if args.label == "dataset" and y is None:
        raise DataError(
            f"--label dataset needs true labels, but {args.inputs} has none; save them as 'y' in a .npz "
            "(np.savez(path, x=inputs, y=labels)) or use --label prediction"
        )
    config = {
        "model": args.model, "arch": args.arch, **source, "indices": indices,
        "perturbation": perturbation.to_spec(), "estimator": estimator.name, "params": estimator.get_params(),
        "budget": budget, "confidence": confidence, "seed": seed, "label_source": args.label,
        "batch_size": args.batch_size, "device": args.device, **extra_config,
    }
    return Task(model, x, y, indices, perturbation, seed, budget, confidence, args.label,
                args.batch_size, args.device, json_path, args.quiet, config)


def _check_device(device: str | None) -> None:
    if device is None:
        return
    try:
        torch.empty(0, device=device)  # parses the name and checks that the device exists
    except (RuntimeError, AssertionError) as err:  # older torch builds assert when CUDA is absent
        reason = str(err).splitlines()[0]
        raise ConfigurationError(f"--device {device!r} is not usable here: {reason}") from err


def _load_data(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    """Inputs, labels (or ``None``) and their description for the report."""
    if args.dataset is not None:
        split = args.split or "test"
        data = zoo.load_dataset(args.dataset, split=split)
        return data.x, data.y, {"dataset": args.dataset, "split": split}
    x, y = load_inputs(args.inputs)
    return x, y, {"inputs": str(args.inputs)}


# -- running -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress_bar(quiet: bool, unit: str = "inputs") -> Iterator[tuple[Progress, TaskID]]:
    """A rich progress bar with ETA on stderr, drawn only on a terminal (a redrawn bar in a log is noise)."""
    stderr = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=stderr, disable=quiet or not stderr.is_terminal) as progress:
        yield progress, progress.add_task("", total=None)


def _run(
    task: Task,
    call: Callable[..., Result],
    indices: Sequence[int] | None = None,
    on_result: Callable[[int, Result], None] | None = None,
) -> list[Result]:
    """Call ``call`` on ``indices`` (default: all selected inputs), with a progress bar over all queries.

    ``on_result(index, result)`` runs as soon as each input is done (campaigns store it there).
    """
    indices = task.indices if indices is None else list(indices)
    with _progress_bar(task.quiet, unit="queries") as (progress, bar):
        progress.update(bar, total=len(indices) * task.budget)
        results = []
        for position, index in enumerate(indices, 1):
            progress.update(bar, description=f"input {index} ({position}/{len(indices)})")
            result = call(
                task.model, task.x[index], task.perturbation,
                seed=_rng.derive_seed(task.seed, index), label=_reference(task, index),
                batch_size=task.batch_size, device=task.device,
                progress=functools.partial(progress.advance, bar),
            )
            # Early stopping (certify) leaves budget unused; count it as done so the ETA stays right.
            progress.advance(bar, task.budget - result.n_queries)
            if on_result is not None:
                on_result(index, result)
            results.append(result)
    return results


def _reference(task: Task, index: int) -> int | None:
    """The reference label passed to the estimator: ``None`` lets it use the model's prediction."""
    return int(task.y[index]) if task.label_source == "dataset" and task.y is not None else None


# -- output --------------------------------------------------------------------------------------------
def _stdout_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def _results_table(task: Task, title: str, headers: Sequence[str]) -> Table:
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


def _label_cells(task: Task, index: int, result: Result) -> list[str]:
    true = [] if task.y is None else [str(int(task.y[index]))]
    return [str(index), *true, "?" if result.label is None else str(result.label)]


def _interval_cells(result: Result) -> list[str]:
    return [f"{result.failure_probability:.4g}", f"{result.ci.low:.4g}", f"{result.ci.high:.4g}"]


def _cost_cells(result: Result) -> list[str]:
    return [f"{result.n_queries:,}", f"{result.seconds:.2f}"]


#: What the interval means for estimators whose result is a bound rather than a confidence interval.
_BOUND_NOTES = {
    "deterministic": "[p low, p high] is certified (a deterministic bound): it holds for the model itself",
    "pac": "[p low, p high] is a PAC bound: it holds with probability >= {confidence:g} over the samples drawn",
}


def _print_estimates(task: Task, results: Sequence[Result], summary: dict[str, Any]) -> None:
    table = _results_table(task, f"probust evaluate: {task.perturbation.to_spec()}",
                           ["p", "p low", "p high", "PR", "queries", "sec"])
    for index, r in zip(task.indices, results, strict=True):
        table.add_row(*_label_cells(task, index, r), *_interval_cells(r), f"{r.pr:.6g}", *_cost_cells(r))
    console = _stdout_console()
    console.print(table)
    for kind in sorted({r.bound_kind for r in results} & set(_BOUND_NOTES)):
        console.print(Text(_BOUND_NOTES[kind].format(confidence=task.confidence)))
    console.print(f"mean PR {summary['mean_pr']:.4f} over {_inputs(summary['n_inputs'])}; "
                  f"{summary['total_queries']:,} queries in {summary['total_seconds']:.1f} s")


def _print_certificates(task: Task, results: Sequence[CertifyResult], summary: dict[str, Any]) -> None:
    theta = task.config["max_failure"]
    table = _results_table(task, f"probust certify: p <= {theta:g}? {task.perturbation.to_spec()}",
                           ["decision", "p", "p low", "p high", "queries", "sec"])
    for index, r in zip(task.indices, results, strict=True):
        table.add_row(*_label_cells(task, index, r), r.decision, *_interval_cells(r), *_cost_cells(r))
    console = _stdout_console()
    console.print(table)
    console.print(f"{summary['robust']} robust, {summary['not_robust']} not robust, {summary['undecided']} "
                  f"undecided out of {_inputs(summary['n_inputs'])}; {summary['total_queries']:,} queries in "
                  f"{summary['total_seconds']:.1f} s")


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
    return {**_totals(results), "mean_pr": math.fsum(prs) / len(prs), "min_pr": min(prs)}


def _certify_summary(results: Sequence[CertifyResult]) -> dict[str, Any]:
    decisions = [r.decision for r in results]
    counts = {key.replace(" ", "_"): decisions.count(key) for key in ("robust", "not robust", "undecided")}
    return {**_totals(results), **counts}


def _write_report(task: Task, argv: list[str], results: Sequence[Result], summary: dict[str, Any]) -> None:
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
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help and --version print and exit
            return int(done.code or 0)
        return args.handler(args, argv)
    except ProbustError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; no report was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
