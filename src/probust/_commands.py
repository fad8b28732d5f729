"""What every ``probust`` sub-command shares: option groups, validated run preparation, the run loop with
its progress bar, and console output.

:mod:`probust.cli` and the command modules of the sub-packages (``campaign.commands``,
``bench.commands``) all import this module and never each other's private helpers, so the imports flow
one way: ``cli -> <package>.commands -> _commands``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import _rng, failure_spec, zoo
from ._files import check_output_path, write_text_atomic
from ._inputs import load_inputs, parse_indices
from .errors import ConfigurationError, DataError, ProbustError, first_line
from .estimators import ESTIMATORS, Estimator, check_replicas, get_estimator
from .intervals import INTERVAL_METHODS, check_confidence
from .model_loading import declared_input_shape, load_model, model_input_shape
from .perturbations import Perturbation, parse_perturbation
from .properties import Property
from .querying import Model, check_budget
from .result import Result
from .vnnlib import read_vnnlib

#: Width of tables written to a pipe or file, where rich cannot ask the terminal (its default is 80).
_PIPE_WIDTH = 160


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors become one-line ``ConfigurationError``s (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigurationError(f"{message} (see '{self.prog} --help')")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How each input is run, whatever the source of the inputs: checked before anything loads."""

    seed: int
    budget: int
    confidence: float
    batch_size: int | None
    device: str | None
    json_path: Path | None
    quiet: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace, estimator: Estimator) -> RunOptions:
        """The options of the command line, each checked (the budget against ``estimator``'s minimum)."""
        budget = check_budget(args.budget, estimator.min_budget)
        confidence = check_confidence(args.confidence)
        seed = _rng.resolve_seed(args.seed)
        check_device(args.device)
        json_path = check_output_path(args.json) if args.json else None
        return cls(seed=seed, budget=budget, confidence=confidence, batch_size=args.batch_size, device=args.device,
                   json_path=json_path, quiet=args.quiet)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inputs:
    """What a source (``--dataset``, ``--inputs`` or ``--vnnlib``) gives a run: the model to query, the inputs and
    what fails on them."""

    #: The model as queried: a saliency map of the loaded model for an explanation property.
    model: Model
    x: torch.Tensor
    y: torch.Tensor | None
    indices: list[int]
    perturbation: Perturbation
    #: Where the reference label comes from: ``prediction``, ``dataset`` or ``vnnlib`` (no label).
    label_source: str
    #: One input set and failure property per input (a VNNLIB file's boxes, or a ``--failure`` property),
    #: instead of ``perturbation`` and the label-change property for all.
    perturbations: Sequence[Perturbation] | None = None
    failures: Sequence[Property] | Mapping[int, Property] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task(RunOptions, Inputs):
    """Everything a run needs, validated and loaded before the first query, and the ``config`` its report records."""

    config: dict[str, Any]

    @property
    def title(self) -> str:
        """What the inputs are perturbed by, for table titles."""
        if "vnnlib" in self.config:
            return f"VNNLIB {self.config['vnnlib']} ({_plural(len(self.indices), 'box', 'boxes')})"
        return self.perturbation.to_spec()

    def arguments(self, index: int) -> tuple[torch.Tensor, Perturbation, dict[str, Any]]:
        """Input, perturbation and property keyword of input ``index`` for ``estimate`` / ``certify``."""
        pert = self.perturbation if self.perturbations is None else self.perturbations[index]
        prop = {"label": reference(self, index)} if self.failures is None else {"failure": self.failures[index]}
        return self.x[index], pert, prop


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# -- options ---------------------------------------------------------------------------------------
def add_task_options(parser: argparse.ArgumentParser, vnnlib: bool = False) -> None:
    """Options shared by ``evaluate`` and ``certify``: model, inputs, perturbation, execution, output.

    ``vnnlib``: also accept ``--vnnlib FILE`` in place of the inputs and the perturbation.
    """
    parser.add_argument("--model", required=True,
                        help="zoo model name, or a TorchScript (.pt), state-dict (.pt/.pth, with --arch) "
                             "or ONNX file (.onnx, .onnx.gz)")
    parser.add_argument("--arch", help=f"architecture of a state-dict file: {', '.join(zoo.ARCHITECTURES)}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help=f"zoo data set: {', '.join(zoo.list_datasets())}")
    source.add_argument("--inputs", metavar="FILE",
                        help=".npy array (N x ...) or .npz with keys x and optional y")
    if vnnlib:
        source.add_argument("--vnnlib", metavar="FILE",
                            help="VNNLIB property (VNN-COMP): inputs uniform in its box(es), failure = its output "
                                 "constraints; replaces --perturbation")
    parser.add_argument("--split", help="data set split (default: test; only with --dataset)")
    parser.add_argument("--indices", help="A:B, :B, A:, I or a comma list like 1,5,9 (default: all)")
    parser.add_argument("--perturbation", required=not vnnlib, metavar="SPEC",
                        help="e.g. uniform-linf:eps=0.1,clip=0:1 (see 'probust list')")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default: 0)")
    parser.add_argument("--batch-size", type=int, help="model batch size (default: automatic)")
    parser.add_argument("--device", help="torch device of the model, e.g. cpu or cuda (default: the model's)")
    parser.add_argument("--label", choices=("prediction", "dataset"), default="prediction",
                        help="reference label: the model's prediction (Definition 1, default) "
                             "or the true label")
    parser.add_argument("--failure", metavar="SPEC",
                        help="failure property (default label-change), e.g. top-k:k=2, "
                             "explanation-topk:k=20,min_overlap=0.6, conformal-cover:alpha=0.05 "
                             f"(one of {', '.join(failure_spec.failures())})")
    parser.add_argument("--json", metavar="PATH", help="write a JSON report once every input is done")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_estimate_options(parser: argparse.ArgumentParser) -> None:
    """Options of commands that estimate failure probabilities (``evaluate``, ``campaign run``)."""
    parser.add_argument("--estimator", default="mc", metavar="SPEC",
                        help=f"NAME or NAME:key=value,... with NAME one of {', '.join(ESTIMATORS)} (default: mc; "
                             "e.g. amls:n_particles=2000; `probust list` shows the parameters)")
    parser.add_argument("--interval", choices=INTERVAL_METHODS, help="interval method of the estimator (mc only)")
    parser.add_argument("--budget", type=count, default=10_000, help="queries per input (default: 10000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default: 0.95)")
    parser.add_argument("--decompose", action=argparse.BooleanOptionalAction, default=None,
                        help="estimate a union failure part by part (one run per class the label can change to); "
                             "default: on for amls, last-particle, gradient-smc and is when the budget allows")
    parser.add_argument("--replicas", type=int, metavar="K",
                        help="independent runs per estimate, checked for agreement (default: 2 for amls, "
                             "last-particle and is when each gets >= 20000 queries, else 1)")


def estimate_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``decompose`` and ``replicas`` keywords of ``estimate`` from the command line, checked before any work."""
    return {"decompose": getattr(args, "decompose", None), "replicas": check_replicas(getattr(args, "replicas", None))}


def add_scale_options(parser: argparse.ArgumentParser) -> None:
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=int, metavar="N",
                       help="run on a local Dask cluster of N single-threaded worker processes (0: in this "
                            "process, the default of run; resume reuses the count the campaign ran with)")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler (tcp://host:port)")


def count(text: str) -> int:
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


# -- preparing a run -----------------------------------------------------------------------------------
def make_estimator(spec: str, interval: str | None) -> Estimator:
    """The estimator of a spec (``amls:n_particles=2000``), built with ``interval=`` when given (mc only)."""
    estimator = get_estimator(spec)
    if interval is None:
        return estimator
    if "interval" not in {f.name for f in dataclasses.fields(estimator)}:
        raise ConfigurationError(f"--interval does not apply to estimator {estimator.name!r}; drop it")
    return dataclasses.replace(estimator, interval=interval)


def prepare(args: argparse.Namespace, estimator: Estimator, **extra_config: Any) -> Task:
    """Validate every option, then load the model and the inputs (cheap checks first: fail fast).

    The inputs come from one source, ``--dataset``, ``--inputs`` or ``--vnnlib``; each refuses the options that
    do not apply to it. ``extra_config`` holds command-specific settings recorded in the report.
    """
    source = _VnnlibSource(args) if getattr(args, "vnnlib", None) is not None else _DataSource(args)
    run = RunOptions.from_args(args, estimator)
    model = load_model(args.model, args.arch)
    if isinstance(model, torch.nn.Module) and args.device is not None:
        model.to(args.device)  # the estimator moves inputs to --device, the model must follow
    inputs, described = source.load(args, model)
    config = {
        "model": args.model, "arch": args.arch, **described, "estimator": estimator.name,
        "params": estimator.params(), "budget": run.budget, "confidence": run.confidence, "seed": run.seed,
        "label_source": inputs.label_source, "batch_size": run.batch_size, "device": run.device, **extra_config,
    }
    return Task(**vars(run), **vars(inputs), config=config)


class _DataSource:
    """``--dataset`` or ``--inputs``: one ``--perturbation`` for every input, label change or ``--failure``."""

    def __init__(self, args: argparse.Namespace):
        if args.perturbation is None:
            raise ConfigurationError("--perturbation is required (or --vnnlib, whose boxes are the input sets)")
        self.perturbation = parse_perturbation(args.perturbation)
        self.failure = failure_spec.parse_failure(args.failure) if getattr(args, "failure", None) else None
        if args.split is not None and args.dataset is None:
            raise ConfigurationError("--split applies only to --dataset; drop it with --inputs")

    def load(self, args: argparse.Namespace, model: Model) -> tuple[Inputs, dict[str, Any]]:
        """The inputs and their description for the report."""
        x, y, source = load_data(args)
        expected = declared_input_shape(model, args.model)
        if expected is not None and math.prod(x.shape[1:]) != math.prod(expected):  # flat vectors may be fine
            raise DataError(f"each input in {args.inputs or args.dataset} has shape {tuple(x.shape[1:])}, but "
                            f"{args.model} takes inputs of shape {expected}; save them in that shape")
        indices = parse_indices(args.indices, len(x))
        if indices:  # the inputs share one shape: a family that cannot take it fails before any work or file
            self.perturbation.check_input(x[indices[0]])
        if args.label == "dataset" and y is None:
            raise DataError(
                f"--label dataset needs true labels, but {args.inputs} has none; save them as 'y' in a .npz "
                "(np.savez(path, x=inputs, y=labels)) or use --label prediction"
            )
        described = {**source, "indices": indices, "perturbation": self.perturbation.to_spec()}
        failures = None
        if self.failure is not None:
            failure_spec.check_calibration_leak(self.failure, args.model, args.dataset, source.get("split", ""),
                                                indices)
            model, failures, described["failure"] = prepare_failures(self.failure, model, args.model, x, y, indices,
                                                                     args.label)
        return Inputs(model=model, x=x, y=y, indices=indices, perturbation=self.perturbation,
                      label_source=args.label, failures=failures), described


def prepare_failures(spec: failure_spec.FailureSpec, model: Model, model_name: str, x: torch.Tensor,
                     y: torch.Tensor | None, indices: list[int], label_source: str,
                     ) -> tuple[Model, dict[int, Property], dict[str, Any]]:
    """The model to query and one property per selected input (its true label under ``--label dataset``).

    The property is resolved once on the first input, so a model that does not meet its requirements
    (no gradients for a saliency map, no logits for a conformal set) fails before the run starts.
    """
    if label_source == "dataset" and not spec.takes_label:
        raise ConfigurationError(f"--label dataset does not apply to --failure {spec.name} (it has no reference "
                                 "label); drop --label")
    failures, record = {}, {"name": spec.name, **spec.params}
    for i in indices:
        label = int(y[i]) if label_source == "dataset" and y is not None else None
        queried, failures[i], extra = failure_spec.build_failure(spec, model, model_name, label)
        record.update(extra)
        if "qhat" in extra:  # calibrated once (conformal): reuse its qhat for the other inputs
            spec = dataclasses.replace(spec, params={**{k: v for k, v in spec.params.items() if k != "alpha"},
                                                     "qhat": extra["qhat"]})
    first = failures[indices[0]] if indices else None
    if first is not None:
        try:
            with torch.inference_mode():
                first.resolve(queried(x[indices[0]].unsqueeze(0)))
        except ProbustError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError):
            pass  # a shape or device problem: the estimator's oracle reports it with its own advice
    return queried, failures, record


class _VnnlibSource:
    """``--vnnlib``: one input per box of the file, x its centre, uniform in the box, failure its output constraints."""

    def __init__(self, args: argparse.Namespace):
        for flag, given in (("--perturbation", args.perturbation), ("--split", args.split),
                            ("--indices", args.indices), ("--failure", getattr(args, "failure", None))):
            if given is not None:
                raise ConfigurationError(f"{flag} does not apply with --vnnlib (its boxes are the inputs); drop it")
        if args.label != "prediction":
            raise ConfigurationError("--label does not apply with --vnnlib (its output constraints are the failure)")
        self.cases = read_vnnlib(args.vnnlib)  # a text file: read before the (slower) model

    def load(self, args: argparse.Namespace, model: Model) -> tuple[Inputs, dict[str, Any]]:
        """The boxes as inputs and their description for the report."""
        shape = model_input_shape(model, args.model, self.cases[0].n_inputs)
        perturbations = [case.perturbation() for case in self.cases]
        indices = list(range(len(self.cases)))
        described = {"vnnlib": str(args.vnnlib), "indices": indices,
                     "perturbation": [p.to_spec() for p in perturbations],
                     "failure": [case.region.describe() for case in self.cases]}
        return Inputs(model=model, x=torch.stack([case.centre().reshape(shape) for case in self.cases]), y=None,
                      indices=indices, perturbation=perturbations[0], label_source="vnnlib",
                      perturbations=perturbations, failures=[case.region for case in self.cases]), described


def check_device(device: str | None) -> None:
    if device is None:
        return
    try:
        torch.empty(0, device=device)  # parses the name and checks that the device exists
    except (RuntimeError, AssertionError) as err:  # older torch builds assert when CUDA is absent
        raise ConfigurationError(f"--device {device!r} is not usable here: {first_line(err)}") from err


def load_data(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    """Inputs, labels (or ``None``) and their description for the report."""
    if args.dataset is not None:
        split = args.split or "test"
        data = zoo.load_dataset(args.dataset, split=split)
        return data.x, data.y, {"dataset": args.dataset, "split": split}
    x, y = load_inputs(args.inputs)
    return x, y, {"inputs": str(args.inputs)}


# -- running -------------------------------------------------------------------------------------------
class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, carrying the results finished before it (in order) and what became of them."""

    def __init__(self, results: list[Result], saved: str = "no report was written"):
        super().__init__()
        self.results = results
        self.saved = saved


@contextlib.contextmanager
def progress_bar(quiet: bool, unit: str = "inputs") -> Iterator[tuple[Progress, TaskID]]:
    """A rich progress bar with ETA on stderr, drawn only on a terminal (a redrawn bar in a log is noise)."""
    stderr = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=stderr, disable=quiet or not stderr.is_terminal) as progress:
        yield progress, progress.add_task("", total=None)


def run_task(
    task: Task,
    call: Callable[..., Result],
    indices: Sequence[int] | None = None,
    on_result: Callable[[int, Result], None] | None = None,
) -> list[Result]:
    """Call ``call`` on ``indices`` (default: all selected inputs), with a progress bar over all queries.

    ``on_result(index, result)`` runs as soon as each input is done (campaigns store it there). Ctrl-C raises
    :class:`Interrupted` with the results finished so far, so a command can still show and save them.
    """
    indices = task.indices if indices is None else list(indices)
    results: list[Result] = []
    try:
        with progress_bar(task.quiet, unit="queries") as (progress, bar):
            _run_inputs(task, call, indices, on_result, results, progress, bar)
    except KeyboardInterrupt:  # the bar is closed: the caller may print and write the finished rows
        raise Interrupted(results) from None
    return results


def _run_inputs(task: Task, call: Callable[..., Result], indices: list[int],
                on_result: Callable[[int, Result], None] | None, results: list[Result], progress: Progress,
                bar: TaskID) -> None:
    """The loop of :func:`run_task`, appending to ``results`` as each input finishes."""
    progress.update(bar, total=len(indices) * task.budget)
    for position, index in enumerate(indices, 1):
        progress.update(bar, description=f"input {index} ({position}/{len(indices)})")
        x, perturbation, prop = task.arguments(index)
        result = call(
            task.model, x, perturbation, seed=_rng.derive_seed(task.seed, index), **prop,
            batch_size=task.batch_size, device=task.device,
            progress=functools.partial(progress.advance, bar),
        )
        # Early stopping (certify) leaves budget unused; count it as done so the ETA stays right.
        progress.advance(bar, task.budget - result.n_queries)
        if on_result is not None:
            on_result(index, result)
        results.append(result)


def reference(task: Task, index: int) -> int | None:
    """The reference label passed to the estimator: ``None`` lets it use the model's prediction."""
    return int(task.y[index]) if task.label_source == "dataset" and task.y is not None else None


# -- output --------------------------------------------------------------------------------------------
def stdout_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def print_wide_table(table: Table) -> None:
    """Print a table that may be wider than ``_PIPE_WIDTH``: whole in a pipe or file (no cell cut with an
    ellipsis), its cells folded onto more lines in a narrower terminal."""
    console = stdout_console()
    for column in table.columns:
        column.overflow = "fold"
    if not console.is_terminal:
        natural = Measurement.get(console, console.options.update(max_width=100_000), table).maximum
        console.width = max(console.width, natural)
    console.print(table)


def add_leaderboard_options(parser: argparse.ArgumentParser, default_db: str, run_help: str) -> None:
    """The options of a leaderboard command: database, run, and the Markdown / HTML files to write."""
    parser.add_argument("--db", default=default_db, metavar="PATH")
    parser.add_argument("--run", metavar="ID", help=run_help)
    parser.add_argument("--markdown", metavar="PATH", help="write the leaderboard as Markdown")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML page with a figure")


def leaderboard(args: argparse.Namespace, load: Callable[[], tuple[str, dict, list]],
                show: Callable[[str, dict, list], None], board: Any) -> int:
    """Print the run that ``load()`` returns and write ``board.markdown`` / ``board.html_page`` of it.

    The output paths are checked before anything is read, and each file is written atomically.
    """
    md = check_output_path(args.markdown) if args.markdown else None
    page = check_output_path(args.html) if args.html else None
    rid, config, cells = load()
    show(rid, config, cells)
    if md is not None:
        write_text_atomic(md, board.markdown(rid, config, cells))
    if page is not None:
        write_text_atomic(page, board.html_page(rid, config, cells))
    return 0


def existing_database(db: str, kind: str, create: str) -> str:
    """``db`` if it is a file, else a clear error: "``kind`` ``db`` does not exist; ``create``"."""
    if not Path(db).is_file():
        raise ConfigurationError(f"{kind} {db} does not exist; {create}")
    return db
