"""``probust campaign run | resume | status | report``: the sub-command parser and its handlers.

A campaign is an ``evaluate`` over many inputs whose results go to a :class:`ResultsStore` one by one.
Its identity is the full configuration plus fingerprints of the model and input files (so an edited
model file cannot silently continue an old campaign); execution settings (batch size, device) are not
part of it, because results do not depend on them (per-input seeds are ``derive_seed(seed, index)``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import json
from typing import Any

from .. import _commands, api, zoo
from .._files import check_output_path
from .._version import __version__
from ..errors import ConfigurationError
from ..metrics import total_statistical_robustness
from ..model_loading import load_model
from .store import ResultsStore

#: The options that define what a campaign computes (stored, and replayed by ``resume``).
TASK_OPTIONS = ("model", "arch", "dataset", "inputs", "split", "indices", "perturbation", "failure", "seed", "label",
                "estimator", "interval", "budget", "confidence", "decompose", "replicas")


def register(commands: Any) -> None:
    """Add ``probust campaign run | resume | status | report`` to the ``probust`` sub-commands."""
    campaign = commands.add_parser("campaign", help="data-set campaigns stored in a results database (SQLite)")
    actions = campaign.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="estimate every selected input, storing each result as soon as it is done")
    _commands.add_task_options(run)
    _commands.add_estimate_options(run)
    run.add_argument("--db", required=True, metavar="PATH", help="results database (created if absent)")
    _commands.add_scale_options(run)
    run.set_defaults(handler=run_command)
    resume = actions.add_parser("resume", help="continue an interrupted campaign where it stopped")
    resume.add_argument("--db", required=True, metavar="PATH")
    resume.add_argument("--campaign", metavar="ID", help="campaign id (default: the only one in the database)")
    resume.add_argument("--batch-size", type=int, help="model batch size (default: automatic)")
    resume.add_argument("--device", help="torch device of the model (default: the model's)")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    _commands.add_scale_options(resume)
    resume.set_defaults(handler=resume_command)
    status = actions.add_parser("status", help="how many inputs are finished")
    status.add_argument("--db", required=True, metavar="PATH")
    status.add_argument("--campaign", metavar="ID")
    status.add_argument("--json", action="store_true", help="print JSON: {total, finished, ...}")
    status.set_defaults(handler=status_command)
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
    report.set_defaults(handler=report_command)

def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _identity(options: dict[str, Any]) -> dict[str, Any]:
    """Options plus fingerprints of the model and the inputs (what the results depend on)."""
    model = options["model"]
    model_sha = zoo.model_info(model)["sha256"] if model in zoo.list_models() else _file_sha256(model)
    inputs_sha = _file_sha256(options["inputs"]) if options["inputs"] else None
    return {"options": options, "model_sha256": model_sha, "inputs_sha256": inputs_sha, "probust_version": __version__}


def _check_workers(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 0:
        raise ConfigurationError(f"--workers must be >= 0 (0: in this process), got {args.workers}")


def _execute(task: Any, estimator: Any, store: ResultsStore, campaign: str, scale: dict[str, Any],
             options: dict[str, Any]) -> None:
    """Run the campaign's unfinished inputs, in this process or on Dask as ``scale`` says, storing each."""
    if (scale["workers"] or scale["scheduler"] is not None) and importlib.util.find_spec("distributed") is None:
        raise ConfigurationError("running on Dask workers (--workers / --scheduler, or a resumed campaign's stored "
                                 "worker count) needs Dask: pip install 'probust[distributed]', or --workers 0")
    done = store.finished(campaign)
    remaining = [i for i in task.indices if i not in done]
    store.set_execution(campaign, scale)

    def save(index: int, result: Any) -> None:
        store.add(campaign, index, None if task.y is None else int(task.y[index]), result)

    try:
        if not scale["workers"] and scale["scheduler"] is None:
            call = functools.partial(api.estimate, estimator=estimator, budget=task.budget,
                                     confidence=task.confidence,
                                     **_commands.estimate_options(argparse.Namespace(**options)))
            _commands.run_task(task, call, remaining, on_result=save)
        else:
            from . import distributed

            with _commands.progress_bar(task.quiet) as (progress, bar):
                progress.update(bar, total=len(remaining), description="inputs")
                distributed.run_distributed(options, remaining, scale["workers"], scale["scheduler"],
                                            task.batch_size, task.device, on_result=save,
                                            on_progress=lambda: progress.advance(bar))
    except KeyboardInterrupt:
        status = store.status(campaign)
        raise _commands.Interrupted([], f"{status['finished']}/{status['total']} inputs are stored in {store.path}; "
                                        f"continue with 'probust campaign resume --db {store.path}'") from None
    _print_summary(store, campaign)


def _print_summary(store: ResultsStore, campaign: str) -> None:
    from .report import clean_accuracy  # matplotlib: loaded only once a campaign has run

    status = store.status(campaign)
    rows = store.results(campaign)
    line = f"campaign {campaign}: {status['finished']}/{status['total']} inputs finished in {store.path}"
    if len(rows) >= 2:
        tsr = total_statistical_robustness([r.failure_probability for _, _, r in rows], 0.95)
        line += (f"; TSR {tsr.tsr:.4f}, 95% interval [{tsr.tsr_ci.low:.4f}, {tsr.tsr_ci.high:.4f}] "
                 "(empirical Bernstein over inputs)")
    accuracy = clean_accuracy(rows, store.config(campaign)["options"].get("label", "prediction"))
    if accuracy is not None:  # PR is measured around each prediction, right or wrong
        k, n = accuracy["correct"], accuracy["inputs"]
        line += f"; clean accuracy {k}/{n}" + (f" (reference != label on {n - k} of {n} inputs)" if k < n else "")
    print(line)


def run_command(args: argparse.Namespace, argv: list[str]) -> int:
    estimator = _commands.make_estimator(args.estimator, args.interval)
    _commands.estimate_options(args)  # checked before anything loads
    _check_workers(args)
    task = _commands.prepare(args, estimator)
    options = {k: getattr(args, k) for k in TASK_OPTIONS}
    with ResultsStore(args.db) as store:
        campaign = store.create(_identity(options), task.indices)
        if store.finished(campaign):
            raise ConfigurationError(
                f"campaign {campaign} in {args.db} has already started; continue it with "
                f"'probust campaign resume --db {args.db}' (or use another --db)"
            )
        _execute(task, estimator, store, campaign, {"workers": args.workers, "scheduler": args.scheduler}, options)
    return 0


def _resume_scale(args: argparse.Namespace, stored: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Where ``resume`` runs: ``--workers`` / ``--scheduler`` if given, else the stored worker count, and why.

    A stored scheduler address is not reused: a cluster outlives few interruptions, and joining a dead address
    would wait out its connection timeout instead of computing.
    """
    if args.workers is not None or args.scheduler is not None:
        return {"workers": args.workers, "scheduler": args.scheduler}, "as given"
    if stored.get("workers"):
        return ({"workers": stored["workers"], "scheduler": None},
                "as the campaign ran (--workers N to change, --workers 0 for this process)")
    if stored.get("scheduler"):
        return ({"workers": None, "scheduler": None},
                f"(it ran on the Dask scheduler {stored['scheduler']}: pass --scheduler ADDRESS to rejoin one)")
    return {"workers": None, "scheduler": None}, "as the campaign ran (--workers N for a local Dask cluster)"


def _where(scale: dict[str, Any]) -> str:
    if scale["scheduler"] is not None:
        return f"on the Dask scheduler {scale['scheduler']}"
    return f"on {scale['workers']} local Dask workers" if scale["workers"] else "in this process"


def resume_command(args: argparse.Namespace, argv: list[str]) -> int:
    _check_workers(args)
    with ResultsStore(_existing(args.db)) as store:
        campaign = store.resolve(args.campaign)
        identity = store.config(campaign)
        options = identity["options"]
        if _identity(options) != identity:
            raise ConfigurationError(
                f"the model or input file of campaign {campaign} changed since it started; results would mix "
                "two configurations. Restore the files or start a new campaign with another --db"
            )
        ns = argparse.Namespace(**options, batch_size=args.batch_size, device=args.device, quiet=args.quiet, json=None)
        estimator = _commands.make_estimator(options["estimator"], options["interval"])
        task = _commands.prepare(ns, estimator)
        scale, why = _resume_scale(args, store.execution(campaign))
        print(f"resuming campaign {campaign} {_where(scale)}, {why}")
        _execute(task, estimator, store, campaign, scale, options)
    return 0


def status_command(args: argparse.Namespace, argv: list[str]) -> int:
    with ResultsStore(_existing(args.db)) as store:
        info = store.status(store.resolve(args.campaign))
    print(json.dumps(info) if args.json else f"{info['finished']}/{info['total']} inputs finished "
          f"(campaign {info['campaign']} in {info['database']})")
    return 0


def report_command(args: argparse.Namespace, argv: list[str]) -> int:
    from . import report as pages

    outputs = [p for p in (args.html, args.csv, args.json) if p]
    if not outputs:
        raise ConfigurationError("say what to write: --html PATH, --csv PATH and/or --json PATH")
    for path in outputs:
        check_output_path(path)
    with ResultsStore(_existing(args.db)) as store:
        campaign = store.resolve(args.campaign)
        config, rows, info = store.config(campaign), store.results(campaign), store.status(campaign)
    if not rows:
        raise ConfigurationError(f"campaign {campaign} has no finished input yet; nothing to report")
    if args.csv:
        pages.write_csv(rows, args.csv)
    if args.json:
        pages.write_json(rows, config, args.json)
    if args.html:
        options = config["options"]
        model = load_model(options["model"], options["arch"])
        data_x = _commands.load_data(argparse.Namespace(**options))[0]
        profile = _operational_weighting(args, options, model, data_x, rows) if args.op_split else None
        pages.write_html(rows, config, info, args.html, model, data_x, profile)
    print(f"wrote {', '.join(outputs)} for campaign {campaign} ({info['finished']}/{info['total']} inputs)")
    return 0


def _operational_weighting(args: argparse.Namespace, options: dict[str, Any], model: Any, data_x: Any, rows: Any):
    """pfd weighted by a profile fitted on another split of the campaign's zoo data set."""
    from ..metrics import OperationalProfile, penultimate_features, weighted_pfd

    if not options["dataset"]:
        raise ConfigurationError("--op-split needs a campaign on a zoo --dataset (its other split is the operation)")
    operational = zoo.load_dataset(options["dataset"], split=args.op_split).x
    profile = OperationalProfile.fit(penultimate_features(model, operational), n_cells=args.op_cells, seed=0)
    indices = [i for i, _, _ in rows]
    cells = profile.assign(penultimate_features(model, data_x[indices]))
    return weighted_pfd([r.failure_probability for _, _, r in rows], cells, profile)


def _existing(db: str) -> str:
    return _commands.existing_database(db, "results database", "start a campaign with 'probust campaign run'")
