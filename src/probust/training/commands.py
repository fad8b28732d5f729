"""``probust train`` and ``probust bench training | training-leaderboard``: parsers and handlers."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from rich.table import Table
from rich.text import Text

from .. import _commands, zoo
from .._files import check_output_path
from ..errors import ConfigurationError
from . import bench as tb
from . import leaderboard as lb
from .methods import METHODS, get_method
from .trainer import accuracy, build_model, estimate_seconds, train

DEFAULT_DB = "training-bench.db"


def register(commands: Any) -> None:
    """Add ``probust train``."""
    p = commands.add_parser("train", help="train a zoo architecture with a PR training method; save a state dict")
    p.add_argument("--arch", required=True, help=f"architecture: {', '.join(zoo.ARCHITECTURES)}")
    p.add_argument("--dataset", required=True,
                   help=f"zoo data set (its train split): {', '.join(zoo.list_datasets())}")
    p.add_argument("--method", required=True, metavar="SPEC",
                   help=f"training method, NAME or NAME:key=value,... (e.g. trades:beta=1): {', '.join(METHODS)}")
    p.add_argument("--eps", type=float, required=True, help="training radius (L-infinity, inputs in [0, 1])")
    p.add_argument("--epochs", type=_commands.count, required=True)
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights, data order and draws")
    p.add_argument("--batch-size", type=_commands.count, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 0.001)")
    p.add_argument("--n-train", type=_commands.count, help="train on the first N images of the split only")
    p.add_argument("--out", required=True, help="state-dict file (.pt); the training record goes next to it (.json)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=train_command)


def register_bench(actions: Any) -> None:
    """Add ``bench training`` and ``bench training-leaderboard`` to the ``probust bench`` actions."""
    run = actions.add_parser("training", help="train every method x seed and score it by the PRBench protocol")
    run.add_argument("--quick", action="store_true", help="digits, 1 epoch, one seed, tiny evaluation (CI)")
    run.add_argument("--methods", nargs="+", metavar="NAME", help=f"default: all ({', '.join(METHODS)})")
    run.add_argument("--seeds", nargs="+", type=int, metavar="S", help="default: 0 1 2 (quick: 0)")
    run.add_argument("--epochs", type=_commands.count, help="epochs for every method (default: 5; quick 1)")
    run.add_argument("--n-train", type=_commands.count, help="train on the first N training images")
    run.add_argument("--n-pr", type=_commands.count, help="test inputs for PR (default 500; quick 40)")
    run.add_argument("--n-ar", type=_commands.count, help="test inputs for AR (default 500; quick 60)")
    run.add_argument("--shard", default="0/1", metavar="I/N",
                     help="compute only shard I of N (N processes on one database)")
    run.add_argument("--db", default=DEFAULT_DB, metavar="PATH")
    run.add_argument("--quiet", action="store_true")
    run.set_defaults(handler=bench_command)
    board = actions.add_parser("training-leaderboard", help="table of a training bench run; Markdown / HTML")
    _commands.add_leaderboard_options(board, DEFAULT_DB, "run id prefix (default: the most recent training run)")
    board.set_defaults(handler=leaderboard_command)


def train_command(args: argparse.Namespace, argv: list[str]) -> int:
    out = check_output_path(args.out)
    method = get_method(args.method)  # an unknown name or a bad parameter fails before any data is loaded
    data = zoo.load_dataset(args.dataset, "train")
    if args.n_train is not None:
        data = data[:args.n_train]
    model = build_model(args.arch, args.seed)
    seconds = estimate_seconds(model, data, method, eps=args.eps, epochs=args.epochs, batch_size=args.batch_size,
                               lr=args.lr)  # checks every argument before the (long) run
    batches = -(-len(data) // args.batch_size)
    if not args.quiet:
        _print_estimate(seconds, method, args, len(data), batches)
    with _commands.progress_bar(args.quiet, unit="batches") as (progress, bar):
        progress.update(bar, total=batches * args.epochs)
        log_epochs = not (args.quiet or progress.console.is_terminal)  # a log gets one line per epoch instead

        def advance(epoch: int, batch: int, loss: float) -> None:
            progress.update(bar, description=f"epoch {epoch + 1} loss {loss:.3f}")
            progress.advance(bar)
            if log_epochs and batch == batches - 1:
                elapsed = progress.tasks[0].elapsed or 0.0
                print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.3f}, {_duration(elapsed)} elapsed, ETA "
                      f"{_duration(elapsed * (args.epochs - epoch - 1) / (epoch + 1))}", file=sys.stderr, flush=True)

        _, record = train(model, data, method, eps=args.eps, epochs=args.epochs, seed=args.seed,
                          batch_size=args.batch_size, lr=args.lr, checkpoint=out, arch=args.arch, progress=advance)
    test = zoo.load_dataset(args.dataset, "test")
    test_accuracy = accuracy(model, test)
    print(f"{record.method} on {record.dataset} ({record.n_train} images), eps {record.eps:g}, {record.epochs} "
          f"epochs: final train loss {record.epoch_loss[-1]:.4f}, accuracy {record.epoch_accuracy[-1]:.2%} (train), "
          f"{test_accuracy:.2%} (the {len(test):,} test images), {record.seconds:.1f} s; saved {out} (load with "
          f"--arch {args.arch}) and {out.with_suffix('.json')}")
    warning = chance_warning(test_accuracy, test.y)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _print_estimate(seconds: float, method: Any, args: argparse.Namespace, images: int, batches: int) -> None:
    """The a-priori time of a run that is not short, on stderr, with the way to a quick first try when it is long."""
    if seconds < SHORT_RUN_SECONDS:
        return
    line = (f"estimate: about {_duration(seconds)} for {args.epochs} epochs x {batches} batches of {images:,} "
            f"images ({method.name} costs ~{method.cost:.0f} forward-backward passes per batch, erm 1; one erm "
            "pass timed here)")
    if seconds > LONG_RUN_SECONDS:
        line += ("; for a first try, fewer images (--n-train 1000), fewer epochs or a cheaper method "
                 "(probust list shows them)")
    print(line, file=sys.stderr, flush=True)


#: Runs estimated shorter than this start without an estimate; longer than ``LONG_RUN_SECONDS``, the estimate comes
#: with the advice of a quick first try.
SHORT_RUN_SECONDS, LONG_RUN_SECONDS = 30.0, 120.0


def chance_warning(test_accuracy: float, labels: Any) -> str | None:
    """A warning when ``test_accuracy`` is closer to chance than to 100%, else ``None``.

    Chance is the accuracy of always answering the most frequent test label. PR is measured around the model's
    own prediction, so a model at chance can score a high PR (one class everywhere scores 1): the warning says
    that the PR of such a model says little. The rule (below the midpoint of chance and 1) is a plain-words
    threshold, not a test: any model under it is far from usable.
    """
    chance = float(labels.bincount().max()) / len(labels)
    if test_accuracy >= (chance + 1.0) / 2:
        return None
    return (f"the trained model classifies {test_accuracy:.1%} of the test images right, near chance "
            f"({chance:.1%} by always answering the most frequent class): its PR says little (a model that "
            "predicts one class everywhere has PR 1); train longer (--epochs), on more images (--n-train) or "
            "with a smaller --eps")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bench_config(args: argparse.Namespace) -> tb.TrainingBench:
    base = tb.QUICK if args.quick else tb.FULL
    changes = {k: v for k, v in {"epochs": args.epochs, "n_train": args.n_train, "n_pr": args.n_pr,
                                 "n_ar": args.n_ar}.items() if v is not None}
    if args.methods:
        changes["methods"] = tuple(n for v in args.methods for n in v.split(",") if n)
    if args.seeds:
        changes["seeds"] = tuple(args.seeds)
    return dataclasses.replace(base, **changes)


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigurationError(f"--shard must be I/N like 0/2, got {text!r}") from None
    return i, n


def bench_command(args: argparse.Namespace, argv: list[str]) -> int:
    bench = _bench_config(args)
    shard = _shard(args.shard)
    cells = tb.plan(bench)
    start = time.perf_counter()
    with tb.TrainingStore(args.db) as store, _commands.progress_bar(args.quiet, unit="cells") as (progress, bar):
        progress.update(bar, total=tb.shards(cells, shard[1]).count(shard[0]) if shard[1] >= 1 else 0)

        def advance(key: tuple, status: str, computed: bool) -> None:
            progress.update(bar, description=f"{key[1]} seed {key[3]}")
            progress.advance(bar)
            if computed and args.quiet:
                print(f"cell {key[1]} seed {key[3]}: {status} at {time.perf_counter() - start:.0f} s", flush=True)

        rid, computed = tb.run_training_bench(store, bench, shard, on_cell=advance)
        print(f"training bench run {rid}: {computed} cells computed in {time.perf_counter() - start:.0f} s "
              f"(shard {shard[0]}/{shard[1]} of {len(cells)}); database {args.db}")
        _print(*tb.load(store, rid))
    return 0


def leaderboard_command(args: argparse.Namespace, argv: list[str]) -> int:
    def load() -> tuple[str, dict, list]:
        db = _commands.existing_database(args.db, "database", f"create it with 'probust bench training --db {args.db}'")
        with tb.TrainingStore(db) as store:
            return tb.load(store, args.run)

    return _commands.leaderboard(args, load, _print, lb)


def _print(rid: str, config: dict, cells: list) -> None:
    rows = lb.summarize(cells)
    table = Table(*lb.headers(rows), title=Text(f"Training leaderboard, run {rid}"),
                  caption=Text(f"{lb.describe(config)}\n{lb.hardware_line(config)}"), caption_justify="left")
    for r in lb.table_rows(rows):
        table.add_row(*r)
    _commands.print_wide_table(table)
