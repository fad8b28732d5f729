"""Bounds over graphs: seconds per bound on chains before / after (same run), and soundness on graph nets vs MC.

1. Chains (the networks of the existing PROVEN / CROWN tests: zoo mnist-mlp, mnist-cnn and digits-mlp boxes, the
   2-32-32-3 ReLU net and the max-pool net of tests/estimators/test_proven.py): seconds for one
   ``NetworkBounds(model, x, box).linear_bounds(margins)`` (CROWN; alpha-CROWN on two of them), the best of
   ``--repeats`` runs (and of as many as fit in 1 s, up to 500) in a fresh process of the baseline's source
   (``git archive --baseline src``) and of this checkout's, alternated ``--rounds`` times so that machine load
   hits both alike; printed: the medians and their ratio after / before, and whether the bounds themselves
   (A, c) are bitwise the same.
2. Graph nets (tests/bounds/graph_nets.py: residual MLP and CNN, concat, padded + transposed CNN, sigmoid and tanh
   MLPs): seconds per CROWN bound, and the violations of its linear lower bound and of its certified minimum
   at ``--samples`` Monte Carlo points of the box (half of them corners).

Run: .venv/bin/python benchmarks/graph_bounds.py [--baseline 7c4c81e] [--rounds 3] [--repeats 3]
     [--samples 1000000]   (OMP_NUM_THREADS=1 for stable timings)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before the bounds followed graphs.
BASELINE = "7c4c81e"


def margin_spec(y: int, n: int) -> torch.Tensor:
    spec = -torch.eye(n, dtype=torch.float64)[[j for j in range(n) if j != y]]
    spec[:, y] = 1.0
    return spec


def chain_cases() -> list[tuple[str, nn.Module, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]]:
    """(name, model, x, box): the models and boxes of the existing CROWN / PROVEN tests."""
    import probust as pb

    out = []
    for name, eps in (("mnist-mlp", 0.03), ("mnist-cnn", 0.03), ("digits-mlp", 0.1)):
        x, _ = pb.zoo.load_dataset(name.split("-")[0])[3]
        out.append((name, pb.zoo.load_model(name), x, ((x - eps).clamp(0, 1), (x + eps).clamp(0, 1))))
    g = torch.Generator().manual_seed(0)
    relu = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    pooled = nn.Sequential(nn.Linear(6, 40), nn.ReLU(), nn.MaxPool1d(4), nn.Linear(10, 2))
    for net in (relu, pooled):
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=g) / 2)
    out.append(("relu-2-32-32-3", relu.eval(), torch.full((2,), 0.5), (torch.full((2,), 0.4), torch.full((2,), 0.6))))
    out.append(("maxpool-6-40-2", pooled.eval(), torch.full((6,), 0.5), (torch.full((6,), 0.4), torch.full((6,), 0.6))))
    return out


def worker(repeats: int, save: str | None) -> None:
    """Print {case: best seconds} for this process's probust (the parent sets PYTHONPATH); ``save``: write each
    case's linear bound (A, c) there."""
    from probust.bounds import NetworkBounds

    torch.set_num_threads(1)
    times, forms = {}, {}
    for name, model, x, box in chain_cases():
        with torch.no_grad():
            y = int(model(x[None]).argmax())
        spec = margin_spec(y, int(model(x[None]).numel()))
        for relaxation in ("crown", "alpha-crown") if name in ("digits-mlp", "relu-2-32-32-3") else ("crown",):
            best, runs, spent = float("inf"), 0, 0.0
            while runs < repeats or spent < 1.0 and runs < 500:  # milliseconds-long bounds: many runs, best one
                start = time.perf_counter()
                network = NetworkBounds(model, x, box=box)
                form = network.linear_bounds(spec) if relaxation == "crown" else network.alpha_crown(spec)
                seconds = time.perf_counter() - start
                best, runs, spent = min(best, seconds), runs + 1, spent + seconds
            times[f"{name} {relaxation}"] = best
            forms[f"{name} {relaxation}"] = (form.A, form.c)
    if save:
        torch.save(forms, save)
    print(json.dumps(times))


def chain_timings(baseline: str, rounds: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", baseline, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sources = {"before": Path(tmp) / "src", "after": ROOT / "src"}
        runs: dict[str, list[dict]] = {k: [] for k in sources}
        for r in range(rounds):
            for label, src in sources.items():
                env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
                save = ["--save", str(Path(tmp) / f"{label}.pt")] if r == 0 else []
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", "--repeats", str(repeats), *save],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                runs[label].append(json.loads(out.strip().splitlines()[-1]))
        before, after = (torch.load(Path(tmp) / f"{label}.pt") for label in sources)
        pairs = {k: list(zip(before[k], after[k], strict=True)) for k in before}
        same = sum(all(torch.equal(a, b) for a, b in v) for v in pairs.values())
        worst = max(float((a - b).abs().max()) for v in pairs.values() for a, b in v)
        print(f"linear bounds (A, c) after == before, bitwise: {same} / {len(pairs)} cases (max |diff| {worst:.1e})")
    print(
        f"chains: seconds per bound, median of {rounds} processes (best of >= {repeats} runs each); before = {baseline}"
    )
    print(f"{'case':32s} {'before':>9s} {'after':>9s} {'ratio':>7s}")
    ratios = []
    for case in runs["before"][0]:
        before = statistics.median(r[case] for r in runs["before"])
        after = statistics.median(r[case] for r in runs["after"])
        ratios.append(after / before)
        print(f"{case:32s} {before:9.4f} {after:9.4f} {after / before:7.2f}")
    print(f"{'median ratio after / before':32s} {'':9s} {'':9s} {statistics.median(ratios):7.2f}")


def graph_soundness(samples: int) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "bounds"))  # the hand-written graph nets of the tests
    from graph_nets import GRAPH_NETS, graph_setup

    from probust.bounds import NetworkBounds

    print(f"\ngraph nets: CROWN seconds per bound, violations at {samples:,} points per net (half at corners)")
    print(f"{'net':24s} {'seconds':>8s} {'linear viol.':>13s} {'min viol.':>10s} {'bound':>9s} {'MC min':>9s}")
    total = 0
    for name in GRAPH_NETS:
        net, x, (lo, hi) = graph_setup(name, 0)
        with torch.no_grad():
            spec = margin_spec(int(net(x[None]).argmax()), 3)
        start = time.perf_counter()
        network = NetworkBounds(net, x, box=(lo, hi))
        form = network.linear_bounds(spec)
        seconds = time.perf_counter() - start
        lower = network.lower(form.A, form.c)
        linear_violations, worst = 0, torch.full((len(spec),), torch.inf, dtype=torch.float64)
        for chunk in range(0, samples, 100_000):
            n = min(100_000, samples - chunk)
            u = torch.rand(n, *x.shape, generator=torch.Generator().manual_seed(chunk), dtype=torch.float64)
            u[: n // 2] = u[: n // 2].round()
            xs = lo + (hi - lo) * u
            with torch.no_grad():
                margins = net(xs) @ spec.T
            linear_violations += int((margins < (xs - x).flatten(1) @ form.A.flatten(1).T + form.c - 1e-9).sum())
            worst = torch.minimum(worst, margins.amin(0))
        min_violations = int((worst < lower - 1e-9).sum())
        total += linear_violations + min_violations
        print(
            f"{name:24s} {seconds:8.3f} {linear_violations:13d} {min_violations:10d} {float(lower.min()):9.3f} "
            f"{float(worst.min()):9.3f}"
        )
    print(f"violations in all: {total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeats, args.save)
        return
    chain_timings(args.baseline, args.rounds, args.repeats)
    graph_soundness(args.samples)


if __name__ == "__main__":
    main()
