"""Compute the gold values of PR-Bench and write them into ``src/probust/bench/data/<suite>.json``.

Run once per suite; the JSON files are committed, and the tests re-check every recorded claim:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_bench_references.py linear   # closed forms, seconds
    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_bench_references.py relu     # quadrature, ~minutes
    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_bench_references.py zoo      # Monte Carlo, ~50 minutes
    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_bench_references.py semantic # exact failure sets, seconds
    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_bench_references.py landscape # hard landscapes, seconds

* ``linear``: linear classifiers from :func:`probust.bench.closed_form.linear_case`, gold = closed form.
* ``relu``: small seeded ReLU networks in 2-3 dimensions, gold = nested adaptive quadrature with exact line
  integrals (:mod:`probust.bench.relu_quadrature`).
* ``zoo``: zoo models on real MNIST test images, gold = probust's own Monte Carlo with a large budget and its
  exact (Clopper-Pearson) 99.9% interval. Radii were chosen with short AMLS probes so that p is 1e-2..1e-5;
  the 10^7-sample CNN case near 1e-5 alone took 35 minutes on one shared CPU thread (a few minutes on two free cores).
* ``semantic``: semantic families on small images, gold = their exact failure sets (:mod:`probust.bench.semantic`).
* ``landscape``: the default grid of :mod:`probust.bench.landscapes` (hard failure landscapes), gold = each
  landscape's exact p at its built float64 parameters, with a relative error bound of ``LANDSCAPE_REL_ERROR``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1] / "src" / "probust" / "bench" / "data"

#: (id, zoo model, test index, perturbation spec, Monte Carlo samples). p from AMLS probes in brackets.
ZOO_CASES = [
    ("zoo/mnist-mlp/6/linf-0.14", "mnist-mlp", 6, "uniform-linf:eps=0.14,clip=0:1", 10_000_000),  # ~1.3e-4
    ("zoo/mnist-mlp/5/linf-0.2", "mnist-mlp", 5, "uniform-linf:eps=0.2,clip=0:1", 2_000_000),     # ~5e-3
    ("zoo/mnist-cnn/6/linf-0.11", "mnist-cnn", 6, "uniform-linf:eps=0.11,clip=0:1", 3_000_000),   # ~1.9e-4
    ("zoo/mnist-cnn/6/linf-0.1", "mnist-cnn", 6, "uniform-linf:eps=0.1,clip=0:1", 10_000_000),    # ~8.5e-6
    ("zoo/mnist-cnn/2/linf-0.3", "mnist-cnn", 2, "uniform-linf:eps=0.3,clip=0:1", 1_000_000),     # ~2.8e-3
]
ZOO_CONFIDENCE = 0.999
ZOO_QUICK = {"zoo/mnist-mlp/5/linf-0.2"}  # in the quick subset (the cheapest zoo case)
ZOO_SEED = 20_260_601


def _write(suite: str, record: dict) -> None:
    from probust._files import write_json_atomic

    write_json_atomic(DATA / f"{suite}.json", record)
    print(f"wrote {DATA / f'{suite}.json'}")


def make_zoo() -> None:
    """Large-sample Monte Carlo references with their Clopper-Pearson intervals."""
    import probust as pb
    from probust.bench.hardware import hardware
    from probust.estimators import MonteCarlo

    data = pb.zoo.load_dataset("mnist", split="test")
    cases = []
    total = time.perf_counter()
    for case_id, model_name, index, spec, n in ZOO_CASES:
        model = pb.zoo.load_model(model_name)
        x, _ = data[index]
        res = MonteCarlo().estimate(model, x, spec, budget=n, confidence=ZOO_CONFIDENCE, seed=ZOO_SEED,
                                    batch_size=4096)
        d = res.diagnostics
        print(f"{case_id}: p = {res.failure_probability:.4g} [{res.ci.low:.4g}, {res.ci.high:.4g}] "
              f"({d['n_failures']} of {d['n_samples']}, {res.seconds:.0f} s)", flush=True)
        cases.append({
            "id": case_id, "version": "1", "quick": case_id in ZOO_QUICK, "model": model_name,
            "model_sha256": pb.zoo.model_info(model_name)["sha256"],
            "dataset": "mnist", "split": "test", "index": index, "perturbation": spec,
            "property": "label-change (reference = prediction at the clean input)",
            "gold": {
                "value": res.failure_probability, "low": res.ci.low, "high": res.ci.high,
                "confidence": ZOO_CONFIDENCE, "method": "monte-carlo, exact clopper-pearson interval",
                "n_samples": d["n_samples"], "n_failures": d["n_failures"], "seed": ZOO_SEED,
                "label": res.label, "seconds": round(res.seconds, 1),
            },
        })
    _write("zoo", {
        "suite": "zoo", "version": "1",
        "description": "zoo models on real MNIST test images; gold = large-sample Monte Carlo with its exact interval",
        "hardware": hardware(), "total_seconds": round(time.perf_counter() - total, 1), "cases": cases,
    })


#: Linear cases: (family, dimension, target p); gold = closed form at the solved margin (scale 0.1, seed 0).
LINEAR_GRID = [(family, dim, p) for family in ("gaussian", "uniform-l2", "uniform-linf") for dim, p in (
    (2, 1e-1), (2, 1e-6), (10, 1e-3), (10, 1e-12), (100, 1e-2), (100, 1e-9), (784, 1e-4), (784, 1e-15),
    (3072, 1e-6))]
LINEAR_QUICK = {("gaussian", 10, 1e-3), ("uniform-l2", 100, 1e-9), ("uniform-linf", 10, 1e-12)}
#: Relative error bound claimed for the closed forms: scipy's ndtr / boost's ibeta and the >= 30-digit
#: Irwin-Hall sum are accurate to a few 1e-14 relative; tests/bench checks every value against mpmath.
LINEAR_REL_ERROR = 1e-11


def make_linear() -> None:
    """Closed-form cases built by :func:`probust.bench.closed_form.linear_case`.

    The record keeps the float64 bias of the model; the gold value is the closed form at the *exact* margin
    ``-(w . x + b)`` of the stored float64 numbers (summed in 60-digit arithmetic), so it describes the model
    itself and not the margin that was aimed at.
    """
    import mpmath

    from probust.bench.closed_form import linear_case, linear_tail

    cases = []
    for family, dim, target in LINEAR_GRID:
        start = time.perf_counter()
        case = linear_case(family, dim, target)
        layer = case.model[1]
        w, b = layer.weight[1].detach().double().numpy(), float(layer.bias.detach()[1])
        x = case.x.double().numpy()
        with mpmath.workdps(60):
            dot = mpmath.fsum(mpmath.mpf(wi) * mpmath.mpf(xi) for wi, xi in zip(w, x, strict=True))
            margin = float(-(dot + mpmath.mpf(b)))
            w_norm = float(mpmath.sqrt(mpmath.fsum(mpmath.mpf(wi) ** 2 for wi in w)))
        p = linear_tail(family, dim, margin, 0.1, w_norm)
        cases.append({
            "id": f"linear/{family}/d{dim}/p{target:.0e}", "version": "1",
            "quick": (family, dim, target) in LINEAR_QUICK,
            "params": {"family": family, "dim": dim, "scale": 0.1, "seed": 0, "bias": b},
            "gold": {"value": p, "abs_error": LINEAR_REL_ERROR * p, "target": target, "margin": margin,
                     "method": {"gaussian": "closed form Phi_bar(m / (sigma |w|)) (scipy ndtr)",
                                "uniform-l2": "closed form Beta((d+1)/2, (d+1)/2) tail (scipy/boost ibeta)",
                                "uniform-linf": "exact Irwin-Hall alternating sum in mpmath (>= 30 digits)"}[family]},
        })
        print(f"{cases[-1]['id']}: p = {p:.10g} ({time.perf_counter() - start:.1f} s)", flush=True)
    _write("linear", {"suite": "linear", "version": "1",
                      "description": "linear classifiers (0, w.x + b) with closed-form failure probabilities",
                      "cases": cases})


#: ReLU networks (name -> widths, seed) and cases (id, network, clean input, family, target p).
RELU_NETS = {"relu2d-a": ([2, 16, 16, 3], 1), "relu3d-a": ([3, 12, 12, 3], 3)}
RELU_CASES = [
    ("relu/2d-a/linf/p1e-02", "relu2d-a", [0.3, -0.2], "uniform-linf", 1e-2, True),
    ("relu/2d-a/linf/p1e-06", "relu2d-a", [0.3, -0.2], "uniform-linf", 1e-6, False),
    ("relu/2d-a/gauss/p1e-03", "relu2d-a", [0.3, -0.2], "gaussian", 1e-3, False),
    ("relu/2d-a/gauss/p1e-09", "relu2d-a", [0.3, -0.2], "gaussian", 1e-9, True),
    ("relu/2d-a/l2/p1e-04", "relu2d-a", [0.3, -0.2], "uniform-l2", 1e-4, False),
    ("relu/3d-a/linf/p1e-03", "relu3d-a", [1.0, 0.5, -0.5], "uniform-linf", 1e-3, False),
    ("relu/3d-a/gauss/p1e-05", "relu3d-a", [1.0, 0.5, -0.5], "gaussian", 1e-5, False),
    ("relu/3d-a/l2/p1e-02", "relu3d-a", [1.0, 0.5, -0.5], "uniform-l2", 1e-2, False),
]
RELU_RTOL = {2: 1e-11, 3: 1e-7}  # final relative tolerance of the quadrature by input dimension
RELU_GRID = {2: {"grid": 16385}, 3: {"grid": 257, "inner_grid": 257}}  # support-scan points
#: The second order of integration: which input coordinate the lines follow (the first run uses the last).
RELU_SECOND_ORDER = {2: [1, 0], 3: [1, 2, 0]}
#: Floor of the claimed relative precision: integrations with other scan grids (4097, 6151, 16385 lines) and
#: orders disagreed by up to 2e-5 relative, far beyond their error estimates (a missed sliver has no estimate).
RELU_REL_FLOOR = 1e-4


def relu_abs_error(q1: float, q2: float, e1: float, e2: float) -> float:
    """Claimed precision: twice the disagreement of the two orders plus their estimates, at least 1e-4 relative."""
    return max(2 * (abs(q1 - q2) + e1 + e2), RELU_REL_FLOOR * q1)


def make_relu(keep_scales: bool = False) -> None:
    """Seeded ReLU nets; the noise size is solved for the target p, then p is integrated precisely.

    The value is integrated twice, with lines along two different input coordinates (other breakpoints,
    kinks and support scans). QUADPACK-style error estimates cannot see a failure sliver that falls between
    scan lines, and the two orders disagreed by up to ~2e-5 relative where each claimed ~1e-12, so the stated
    precision is ``abs_error = max(2 (|q1 - q2| + e1 + e2), 1e-4 q1)`` (:func:`relu_abs_error`); tests/bench
    checks it against a third computation and large Monte Carlo. ``keep_scales`` reuses the noise sizes of the
    existing file (skips the root search).
    """
    import numpy as np
    from scipy import optimize

    from probust.bench.relu_net import ReluNet
    from probust.bench.relu_quadrature import failure_probability

    nets = {name: ReluNet.seeded(widths, seed) for name, (widths, seed) in RELU_NETS.items()}
    old = {}
    if keep_scales and (DATA / "relu.json").is_file():
        old = {c["id"]: c["params"]["scale"] for c in json.loads((DATA / "relu.json").read_text())["cases"]}
    cases = []
    for case_id, net_name, x, family, target, quick in RELU_CASES:
        start = time.perf_counter()
        net, x_arr = nets[net_name], np.array(x)
        d = len(x)
        coarse = dict(rtol=1e-4, grid=1025, inner_grid=33) if d == 3 else dict(rtol=1e-6)

        def excess(log_scale: float, net=net, x_arr=x_arr, family=family, coarse=coarse, target=target) -> float:
            p = failure_probability(net, x_arr, family, float(np.exp(log_scale)), **coarse).value
            return (np.log(p) if p > 0 else -800.0) - np.log(target)

        if case_id in old:
            scale = old[case_id]
        else:
            log_scale = optimize.brentq(excess, np.log(0.01), np.log(20.0), xtol=1e-4)
            scale = float(f"{np.exp(log_scale):.4g}")  # a short, exactly reproducible spec value
        label = net.label(x_arr)
        order = RELU_SECOND_ORDER[d]
        q1 = failure_probability(net, x_arr, family, scale, label, rtol=RELU_RTOL[d], **RELU_GRID[d])
        q2 = failure_probability(net.permuted(order), x_arr[order], family, scale, label, rtol=RELU_RTOL[d],
                                 **RELU_GRID[d])
        abs_error = relu_abs_error(q1.value, q2.value, q1.abs_error, q2.abs_error)
        spec = {"gaussian": f"gaussian:sigma={scale}", "uniform-linf": f"uniform-linf:eps={scale}",
                "uniform-l2": f"uniform-l2:eps={scale}"}[family]
        cases.append({
            "id": case_id, "version": "1", "quick": quick,
            "params": {"network": net_name, "x": x, "family": family, "scale": scale, "perturbation": spec,
                       "label": label},
            "gold": {"value": q1.value, "abs_error": abs_error, "target": target,
                     "second_order_value": q2.value, "quadrature_error_estimates": [q1.abs_error, q2.abs_error],
                     "lines": q1.n_lines + q2.n_lines,
                     "method": f"nested adaptive G7/K15 quadrature (rtol {RELU_RTOL[d]:g}) of exact line integrals, "
                               "two orders of integration (probust.bench.relu_quadrature)"},
        })
        print(f"{case_id}: {spec} p = {q1.value:.10g} +- {abs_error:.2g} (second order {q2.value:.10g}; "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    _write("relu", {"suite": "relu", "version": "1",
                    "description": "seeded ReLU networks in 2-3 dimensions; gold = quadrature of exact line integrals",
                    "networks": {name: {"widths": RELU_NETS[name][0], "seed": RELU_NETS[name][1], **net.to_dict()}
                                 for name, net in nets.items()},
                    "cases": cases})


#: (id, perturbation, image, size, read pixel (None: the mean), target p (None: the threshold below), quick).
SEMANTIC_CASES = [
    ("semantic/rotation/uniform/p1e-01", "rotation:deg=30", "ramp", 5, [2, 3], 1e-1, True),
    ("semantic/rotation/normal/p1e-06", "rotation:deg=5,law=normal", "ramp", 5, [2, 3], 1e-6, False),
    ("semantic/rotation/normal-unequal-tails/p1e-06", "rotation:deg=5,law=normal", "tilted-ramp", 5, [2, 3], 1e-6,
     False),
    ("semantic/translation/uniform/p1e-02", "translation:px=2", "ramp", 5, [2, 2], 1e-2, False),
    ("semantic/translation/nearest/p1.25e-01", "translation:px=2,interpolation=nearest", "ramp", 5, [2, 2], None,
     False),
    ("semantic/scaling/uniform/p1e-02", "scaling:factor=0.3", "ramp", 5, [2, 3], 1e-2, False),
    ("semantic/brightness/uniform/p1e-01", "brightness:delta=0.2,clip=0:1", "ramp", 5, None, 1e-1, False),
    ("semantic/brightness/normal/p1e-04", "brightness:delta=0.05,law=normal", "ramp", 5, None, 1e-4, False),
    ("semantic/contrast/uniform/p1e-02", "contrast:factor=0.3", "ramp", 5, [2, 3], 1e-2, False),
    ("semantic/gaussian-blur/uniform/p1e-01", "gaussian-blur:sigma=1", "impulse", 9, [4, 4], 1e-1, False),
    ("semantic/compose/rotation-brightness/p1e-02", "compose(rotation:deg=30;brightness:delta=0.05)", "ramp", 5,
     [2, 3], 1e-2, False),
]
#: Nearest-interpolation case: its threshold (0.3 < t < 0.4: fails iff the centre reads column 0, dx >= 1.5).
SEMANTIC_THRESHOLDS = {"semantic/translation/nearest/p1.25e-01": 0.35}


def make_semantic() -> None:
    """Semantic families on small images with exact failure probabilities (:mod:`probust.bench.semantic`)."""
    from probust.bench import semantic

    cases = []
    for case_id, spec, kind, size, pixel, target, quick in SEMANTIC_CASES:
        params = {"image": kind, "size": size, "pixel": pixel, "perturbation": spec}
        t = SEMANTIC_THRESHOLDS[case_id] if target is None else semantic.threshold_for(params, target)
        value, abs_error, method = semantic.gold({**params, "threshold": t})
        cases.append({"id": case_id, "version": "1", "quick": quick, "params": {**params, "threshold": t},
                      "gold": {"value": value, "abs_error": abs_error, "method": method}})
        print(f"{case_id}: p = {value:.10g}", flush=True)
    _write("semantic", {"suite": "semantic", "version": "1",
                        "description": "semantic families on ramp and impulse images with exact failure probabilities",
                        "cases": cases})


#: Relative error claimed for a landscape's exact p: its formulas are evaluated to about double precision
#: (40-digit normal masses, the >= 30-digit Irwin-Hall sum, scipy's normal tails), so 1e-9 is a wide margin.
LANDSCAPE_REL_ERROR = 1e-9
#: What each landscape family tests and how its exact p is computed (the case description and gold method).
LANDSCAPE_KINDS = {
    "equal-modes": ("two failure modes of equal mass in opposite corners of the L-inf box",
                    "exact: 2 x Irwin-Hall tail (mpmath alternating sum, >= 30 digits)"),
    "gradient-trap": ("a steep major mode (99% of p) hidden behind a shallow minor one",
                      "exact: q_A + q_B - q_A q_B, normal tails (scipy)"),
    "rough": ("a 1-D failure set of many thin intervals (t - c + A sin(omega t) > 0)",
              "exact: normal mass between the roots of s (Brent), 40 digits"),
    "comb": ("failure only on 10 teeth of half-width 1e-5 standard deviations along one axis",
             "exact: sum of the teeth's normal masses, 40 digits"),
    "plateau": ("a flat score (zero gradient) on 90% of the Gaussian noise",
                "exact: normal tail Phi_bar(t0 + h) (scipy)"),
    "plateau-linf": ("a flat score (zero gradient) on 90% of the uniform L-inf noise",
                     "exact: Irwin-Hall tail (mpmath alternating sum, >= 30 digits)"),
    "thin-slab": ("failure on a slab 0.01 standard deviations thin far in the Gaussian tail",
                  "exact: Phi(b) - Phi(a) as a difference of erfc's, 40 digits"),
}


def make_landscape() -> None:
    """The default grid of hard landscapes with their exact failure probabilities (:mod:`probust.bench.landscapes`)."""
    from probust.bench.landscapes import LANDSCAPES, get_landscape

    cases = []
    for name in LANDSCAPES:
        land = get_landscape(name)
        what, method = LANDSCAPE_KINDS[land.kind]
        p = land.failure_probability
        cases.append({
            "id": f"landscape/{name}", "version": "1", "quick": False, "description": what,
            "params": {"landscape": name, "kind": land.kind, "dim": land.dim, "target": float(name.split("/")[2][1:]),
                       "perturbation": land.perturbation.to_spec(), "n_modes": len(land.parts),
                       "parts": {str(k): v for k, v in land.parts.items()}},
            "gold": {"value": p, "abs_error": LANDSCAPE_REL_ERROR * p, "method": method},
        })
        print(f"{cases[-1]['id']}: p = {p:.16g}", flush=True)
    _write("landscape", {"suite": "landscape", "version": "1",
                         "description": "hard failure landscapes (several modes, gradient traps, rough, flat and "
                                        "thin failure sets) with exact failure probabilities",
                         "cases": cases})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=("linear", "relu", "zoo", "semantic", "landscape"))
    parser.add_argument("--keep-scales", action="store_true", help="relu: reuse the noise sizes already stored")
    args = parser.parse_args(argv)
    from probust._allocator import keep_freed_memory

    keep_freed_memory()  # a program owns its process: reuse activation buffers (faster CPU inference)
    torch.set_num_threads(1)
    {"linear": lambda: make_linear(), "relu": lambda: make_relu(args.keep_scales), "zoo": make_zoo,
     "semantic": make_semantic, "landscape": make_landscape}[args.suite]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
