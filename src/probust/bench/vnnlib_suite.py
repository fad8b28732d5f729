"""A VNN-COMP instance list run by probust estimators: ``probust vnnlib-suite instances.csv``.

VNN-COMP benchmarks list their instances as CSV rows ``network, property, timeout`` (paths relative to the
file's folder; ``.onnx.gz`` allowed). For each estimator and each instance, every input box of the property
is estimated under the uniform law on the box (a disjunction of boxes: the union, each box weighted by its
volume), and the instance gets one verdict:

* ``violated`` -- a counterexample was found and **confirmed by onnxruntime** on the original ONNX file, or a
  white-box estimator proved a failing region (``bab``: sound lower bound > 0);
* ``proved`` -- a sound upper bound on P[violation] is 0 on every box (``proven``, ``bab``);
* ``undecided`` -- neither (a statistical estimate of 0 proves nothing).

Results go to a SQLite results database, one campaign per estimator spec, one row per (instance, box), so an
interrupted run resumes. With published verdicts (a ``verdict`` column with ``holds`` / ``violated``, as in
``probust/zoo/acasxu/published_verdicts.csv``), a verdict of probust that contradicts one is counted.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.table import Table

from .. import _commands, _rng
from .._files import check_output_path, write_json_atomic
from .._onnx import OnnxModel
from .._version import __version__
from ..api import estimate
from ..campaign import ResultsStore
from ..errors import ConfigurationError, DataError
from ..estimators import Estimator
from ..intervals import check_confidence
from ..model_loading import load_model, model_input_shape
from ..result import Result
from ..vnnlib import VnnlibCase, read_vnnlib

__all__ = ["Instance", "Verdict", "contradicts", "read_instances", "register", "run_suite", "spread", "verdict"]

#: Boxes of one property at most (a row of the database is instance x MAX_BOXES + box).
MAX_BOXES = 10_000


@dataclasses.dataclass(frozen=True)
class Instance:
    """One row of an instance list; ``published`` is ``"holds"`` / ``"violated"`` where the verdicts say so.

    VNN-COMP's third column, a timeout, is not applied: ``--budget`` bounds the work of each box.
    """

    network: Path
    property: Path
    published: str | None = None

    @property
    def name(self) -> str:
        return f"{self.network.name.removesuffix('.gz').removesuffix('.onnx')} / {self.property.stem}"


def read_instances(path: str | Path, verdicts: str | Path | None = None) -> list[Instance]:
    """The rows of a VNN-COMP instance list, paths resolved against its folder (every file must exist)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"instance list not found: {path}")
    published = _verdicts(verdicts) if verdicts is not None else {}
    out = []
    with open(path, newline="") as f:
        for k, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#") or row[0] == "network":
                continue
            if len(row) < 2:
                raise DataError(f"{path}:{k}: expected 'network, property[, timeout]', got {','.join(row)!r}")
            network, prop = (path.parent / row[i].strip() for i in (0, 1))
            for file in (network, prop):
                if not file.is_file():
                    raise DataError(f"{path}:{k}: file not found: {file}")
            out.append(Instance(network, prop, published.get((network.name, prop.name))))
    if not out:
        raise DataError(f"instance list {path} has no instance")
    return out


def spread(instances: list[Instance], limit: int | None) -> list[Instance]:
    """``limit`` instances spread evenly over the list (every k-th), the same every run; all with None."""
    if limit is None or limit >= len(instances):
        return instances
    return instances[:: max(1, len(instances) // limit)][:limit]


def _verdicts(path: str | Path) -> dict[tuple[str, str], str]:
    with open(path, newline="") as f:
        return {(r["network"], r["property"]): r["verdict"] for r in csv.DictReader(f)}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the results of one instance's boxes establish (see the module docstring)."""

    verdict: str
    witness: str
    estimate: float
    sound_low: float | None
    sound_high: float | None
    counterexamples: int
    confirmed: int
    queries: int
    seconds: float


def _sound(result: Result) -> tuple[float, float] | None:
    """Sound bounds on p from a white-box result (bab's partition, proven's bound), else None."""
    if getattr(result, "sound_low", None) is not None:
        return result.sound_low, result.sound_high  # type: ignore[attr-defined]
    if result.guarantee == "sound":
        return 0.0, result.ci.high
    return None


def verdict(cases: list[VnnlibCase], results: list[Result], confirmed: list[int]) -> Verdict:
    """One instance's verdict from its boxes' results and the counterexamples confirmed on each box."""
    # log-volumes: the volume of a 784-D box of side 0.06 underflows to 0
    logs = [math.fsum(math.log(h - lo) for lo, h in zip(c.lo, c.hi, strict=True) if h > lo) for c in cases]
    scaled = [math.exp(v - max(logs)) for v in logs]
    weights = [v / math.fsum(scaled) for v in scaled]
    estimate_p = sum(w * r.failure_probability for w, r in zip(weights, results, strict=True))
    bounds = [_sound(r) for r in results]
    low = high = None
    if all(b is not None for b in bounds):
        low = sum(w * b[0] for w, b in zip(weights, bounds, strict=True))  # type: ignore[index]
        high = sum(w * b[1] for w, b in zip(weights, bounds, strict=True))  # type: ignore[index]
    if sum(confirmed) or (low is not None and low > 0):
        kind, witness = "violated", ("counterexample confirmed by onnxruntime" if sum(confirmed)
                                     else "failing region proved")
    elif high == 0:
        kind, witness = "proved", "sound upper bound 0 on every box"
    else:
        kind, witness = "undecided", "none"
    return Verdict(kind, witness, estimate_p, low, high, sum(len(r.counterexamples) for r in results),
                   sum(confirmed), sum(r.n_queries for r in results), sum(r.seconds for r in results))


def _confirm(reference: Callable[[torch.Tensor], torch.Tensor], case: VnnlibCase, result: Result) -> int:
    """Counterexamples of ``result`` inside the box that fail again on the reference runtime."""
    count = 0
    lo, hi = torch.tensor(case.lo, dtype=torch.float64), torch.tensor(case.hi, dtype=torch.float64)
    for cx in result.counterexamples:
        xp = cx.tensor(torch.float32)
        inside = bool(((xp.double().flatten() >= lo - 1e-6) & (xp.double().flatten() <= hi + 1e-6)).all())
        with torch.inference_mode():
            count += inside and float(case.region.score(reference(xp[None]).double().reshape(1, -1))[0]) > 0
    return count


def run_suite(instances: list[Instance], estimator: Estimator, store: ResultsStore, *, budget: int,
              confidence: float = 0.95, seed: int = 0, source: str = "",
              progress: Callable[[int, int], None] | None = None) -> list[tuple[Instance, Verdict, bool]]:
    """Estimate every box of every instance with ``estimator`` (resuming its campaign in ``store``).

    Returns, per instance, its verdict and whether the network ran as torch layers (white-box estimators
    need them; an ONNX graph the converter cannot follow runs on onnxruntime).
    """
    cases = {i: read_vnnlib(inst.property) for i, inst in enumerate(instances)}
    for i, c in cases.items():
        if len(c) > MAX_BOXES:
            raise DataError(f"{instances[i].property} has {len(c)} input boxes; at most {MAX_BOXES} are supported")
    config = {"suite": source, "instances": [[str(x.network), str(x.property)] for x in instances],
              "estimator": estimator.to_spec(), "budget": budget, "confidence": confidence, "seed": seed,
              "probust": __version__}
    campaign = store.create(config, [i * MAX_BOXES + k for i, c in cases.items() for k in range(len(c))])
    stored = {index: result for index, _, result in store.results(campaign)}
    models = functools.lru_cache(maxsize=4)(_models)
    out = []
    for i, inst in enumerate(instances):
        model, reference, layers = models(inst.network)
        results, confirmed = [], []
        for k, case in enumerate(cases[i]):
            index = i * MAX_BOXES + k
            if index not in stored:
                x = case.centre().reshape(model_input_shape(model, str(inst.network), case.n_inputs))
                stored[index] = estimate(model, x, case.perturbation(), failure=case.region, estimator=estimator,
                                         budget=budget, confidence=confidence, seed=_rng.derive_seed(seed, index))
                store.add(campaign, index, None, stored[index])
            results.append(stored[index])
            confirmed.append(_confirm(reference, case, stored[index]))
        out.append((inst, verdict(cases[i], results, confirmed), layers))
        if progress:
            progress(i + 1, len(instances))
    return out


def _models(path: Path) -> tuple[Any, Callable[[torch.Tensor], torch.Tensor], bool]:
    """The model probust estimates with, the onnxruntime model that re-checks, and whether the first is layers."""
    model = load_model(path)
    return model, OnnxModel(path), isinstance(model, torch.nn.Module)


# -- the command -----------------------------------------------------------------------------------------
def register(commands: Any) -> None:
    """Add ``probust vnnlib-suite`` to the ``probust`` sub-commands."""
    p = commands.add_parser("vnnlib-suite", help="run a VNN-COMP instance list: violated (counterexamples "
                                                 "confirmed by onnxruntime) / proved / undecided per estimator",
                            description=__doc__.split("\n\n")[0])
    p.add_argument("instances", help="instance list (CSV rows: network, property[, timeout]), e.g. a VNN-COMP "
                                     "benchmark's instances.csv")
    p.add_argument("--estimators", default="mc,bab", metavar="SPECS",
                   help="comma-separated estimator specs (default: mc,bab); a spec's own commas go in brackets: "
                        "'mc,[bab:max_boxes=1024]'")
    p.add_argument("--budget", type=_commands.count, default=10_000, help="queries per box (default 10000)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence of the intervals (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--db", default="vnnlib-suite.db", metavar="PATH", help="results database (resumable)")
    p.add_argument("--verdicts", metavar="CSV", help="published verdicts (columns network, property, verdict)")
    p.add_argument("--limit", type=_commands.count, metavar="N", help="run N instances spread over the list "
                                                                      "(every k-th; default: all)")
    p.add_argument("--json", metavar="PATH", help="write every instance's verdict as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=suite_command)


def _specs(text: str) -> list[str]:
    specs, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            specs.append(current)
            current = ""
        elif ch not in "[]":
            current += ch
    specs.append(current)
    if depth or not all(s.strip() for s in specs):
        raise ConfigurationError(f"--estimators: cannot read {text!r}; give comma-separated specs such as mc,bab")
    return [s.strip() for s in specs]


def suite_command(args: argparse.Namespace, argv: list[str]) -> int:
    confidence = check_confidence(args.confidence)
    estimators = [_commands.make_estimator(spec, None) for spec in _specs(args.estimators)]
    if args.json:
        check_output_path(args.json)
    if args.limit is not None and args.limit < 1:
        raise ConfigurationError(f"--limit must be >= 1, got {args.limit}")
    instances = spread(read_instances(args.instances, args.verdicts), args.limit)
    source = hashlib.sha256(Path(args.instances).read_bytes()).hexdigest()
    rows: list[dict[str, Any]] = []
    table = Table("estimator", "instances", "as layers", "violated", "cx confirmed", "proved", "undecided",
                  "contradictions", "seconds", title=f"{args.instances}: {len(instances)} instances")
    with ResultsStore(args.db) as store, _commands.progress_bar(args.quiet, unit="instances") as (bar, task):
        for est in estimators:
            bar.update(task, description=est.to_spec(), total=len(instances), completed=0)
            start = time.perf_counter()
            done = run_suite(instances, est, store, budget=args.budget, confidence=confidence, seed=args.seed,
                             source=source, progress=lambda i, n: bar.update(task, completed=i))
            for inst, v, layers in done:
                rows.append({"estimator": est.to_spec(), "network": str(inst.network), "property": str(inst.property),
                             "published": inst.published, "layers": layers, **dataclasses.asdict(v),
                             "contradiction": contradicts(inst.published, v.verdict)})
            mine = [r for r in rows if r["estimator"] == est.to_spec()]
            count = {key: sum(r[key] for r in mine) for key in ("layers", "confirmed", "counterexamples",
                                                                  "contradiction")}
            verdicts = Counter(r["verdict"] for r in mine)
            table.add_row(est.to_spec(), str(len(mine)), str(count["layers"]), str(verdicts["violated"]),
                          f"{count['confirmed']} / {count['counterexamples']}", str(verdicts["proved"]),
                          str(verdicts["undecided"]), str(count["contradiction"]), f"{time.perf_counter() - start:.1f}")
    _commands.stdout_console().print(table)
    if args.json:
        write_json_atomic(args.json, {"instances": args.instances, "budget": args.budget, "confidence": confidence,
                                      "seed": args.seed, "rows": rows})
    return 0


def contradicts(published: str | None, mine: str) -> bool:
    """A published 'holds' that probust shows violated, or a published 'violated' that it proves."""
    return (published, mine) in (("holds", "violated"), ("violated", "proved"))
