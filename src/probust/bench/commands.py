"""``probust bench run | leaderboard | list``: the sub-command parser and its handlers."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.table import Table
from rich.text import Text

from .. import _commands
from ..estimators import ESTIMATORS
from . import leaderboard as lb
from . import vnnlib_suite
from .cases import BENCH_VERSION, SUITES, select_cases
from .protocol import FULL, QUICK, Protocol, plan, resolve_estimators, run_bench
from .scoring import summarize
from .store import BenchStore

DEFAULT_DB = "pr-bench.db"


def register(commands: Any) -> Any:
    """Add ``probust bench run | leaderboard | list`` to the ``probust`` sub-commands; return the ``bench``
    actions, where the CLI lets other packages add theirs (``bench training``) without bench importing them."""
    bench = commands.add_parser("bench", help="PR-Bench: score every estimator on gold-standard cases")
    actions = bench.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run (or resume) the benchmark, storing each cell as it finishes")
    run.add_argument("--quick", action="store_true", help="the quick subset (CI): fewer cases, R=2, budget 20000")
    run.add_argument("--estimators", nargs="+", metavar="NAME",
                     help="estimators to score, by name or spec such as amls:n_particles=2000 (default: every "
                          f"registered one that needs no parameter: {', '.join(ESTIMATORS.ready())})")
    run.add_argument("--cases", nargs="+", metavar="PATTERN",
                     help=f"case ids, suites ({', '.join(SUITES)}) or wildcards like 'linear/gaussian/*'")
    run.add_argument("--repeats", type=int, metavar="R", help="repetitions per case (default: 4; quick 2)")
    run.add_argument("--budget", type=_commands.count, metavar="B",
                     help="queries per run (default: 100000; quick 20000)")
    run.add_argument("--confidence", type=float, help="nominal interval confidence (default: 0.95)")
    run.add_argument("--db", default=DEFAULT_DB, metavar="PATH",
                     help=f"results database (default: {DEFAULT_DB}; a campaign database works too)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=run_command)
    board = actions.add_parser("leaderboard", help="print the leaderboard of a run; write Markdown / HTML")
    _commands.add_leaderboard_options(board, DEFAULT_DB, "run id (default: the most recent run)")
    board.set_defaults(handler=leaderboard_command)
    listing = actions.add_parser("list", help="list the benchmark cases and their gold values")
    listing.add_argument("--quick", action="store_true", help="only the quick subset")
    listing.add_argument("--cases", nargs="+", metavar="PATTERN")
    listing.set_defaults(handler=list_command)
    vnnlib_suite.register(commands)
    return actions


def _names(values: list[str] | None) -> list[str] | None:
    """``--estimators a b`` and ``--estimators a,b`` both work, with specs too (``amls:rho=0.2,n_steps=5 mc``:
    an item ``key=value`` without a name continues the spec before it)."""
    if not values:
        return None
    specs: list[str] = []
    for item in (n for v in values for n in v.split(",") if n):
        if specs and "=" in item and ":" not in item:
            specs[-1] += f",{item}"
        else:
            specs.append(item)
    return specs


def run_command(args: argparse.Namespace, argv: list[str]) -> int:
    base = QUICK if args.quick else FULL
    protocol = Protocol(repeats=base.repeats if args.repeats is None else args.repeats,
                        budget=base.budget if args.budget is None else args.budget,
                        confidence=base.confidence if args.confidence is None else args.confidence)
    cases = select_cases(_names(args.cases), quick=args.quick)
    estimators = resolve_estimators(_names(args.estimators))
    cells = plan(cases, estimators, protocol)
    start = time.perf_counter()
    with BenchStore(args.db) as store, _commands.progress_bar(args.quiet, unit="cells") as (progress, bar):
        progress.update(bar, total=len(cells))

        def advance(cell, status: str, computed: bool) -> None:
            progress.update(bar, description=f"{cell.case.id} {cell.estimator_name} r{cell.repetition}")
            progress.advance(bar)

        rid, computed = run_bench(store, cases, estimators, protocol, on_cell=advance)
        print(f"bench run {rid}: {computed} of {len(cells)} cells computed ({len(cells) - computed} already "
              f"stored) in {time.perf_counter() - start:.0f} s; database {args.db}")
        _print(*lb.load(store, rid))
    return 0


def leaderboard_command(args: argparse.Namespace, argv: list[str]) -> int:
    def load() -> tuple[str, dict, list]:
        with BenchStore(_existing(args.db)) as store:
            return lb.load(store, args.run)

    return _commands.leaderboard(args, load, _print, lb)


def list_command(args: argparse.Namespace, argv: list[str]) -> int:
    table = Table("case", "version", "quick", "gold p", "gold precision", "method",
                  title=Text(f"PR-Bench cases ({BENCH_VERSION})"))
    for case in select_cases(_names(args.cases), quick=args.quick):
        g = case.gold
        table.add_row(case.id, case.version, "yes" if case.quick else "", f"{g.value:.6g}",
                      f"+-{g.rel_halfwidth:.1e} rel." + (f" ({g.confidence:g})" if g.confidence else ""), g.method)
    _commands.stdout_console().print(table)
    return 0


def _print(rid: str, config: dict, cells: list) -> None:
    nominal = config["protocol"]["confidence"]
    table = Table(*lb.HEADERS, title=Text(f"PR-Bench leaderboard, run {rid}"),
                  caption=Text(f"{lb.protocol_line(config)}\n{lb.hardware_line(config)}"), caption_justify="left")
    rows, decisions = lb.split(summarize(cells))
    for r in rows:
        table.add_row(*lb.row_cells(r, nominal))
    _commands.print_wide_table(table)
    if decisions:  # yes/no tests: ranked apart, not by |log10 error|
        decided = Table(*lb.DECISION_HEADERS, title=Text("Decision procedures (is p <= theta?)"))
        for r in decisions:
            decided.add_row(*lb.decision_cells(r, cells))
        _commands.stdout_console().print(decided)


def _existing(db: str) -> str:
    return _commands.existing_database(db, "bench database", f"create it with 'probust bench run --db {db}'")
