"""Tightness of the issue-4 certificates on the zoo models across radii, and PROVERO's anchor setting.

Table 1, per model, uniform-L-inf radius (clip to [0, 1]) and test input (the ``--inputs`` most fragile of
the first 200 test images, i.e. smallest clean logit margin, so that failures appear at the larger radii):
a Monte Carlo reference (p and
its 99.9% Clopper–Pearson interval), the deterministic upper bounds (PROVEN exact / Hoeffding,
Cramér–Chernoff) with seconds, the PAC upper bound of sound CC-Cert (500 samples, as in the paper, at 99%)
next to the paper's plug-in value (no confidence correction), and the PROVERO decision for theta = 0.1
(eta 0.01, delta 0.01) with its samples. A deterministic bound below MC's lower limit is flagged "NO".

Table 2, PROVERO's README setting (MNIST, eps 0.1, theta 0.1, eta 0.01, delta 0.01: ~144 samples per
image): mean / median samples and decisions of ``provero`` and of ``pb.certify`` (anytime-valid
beta-binomial sequence, max_failure 0.1, confidence 0.99) over the first test images.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/certificate_tightness.py [--inputs 1] [--mc 20000] [--anchor 20]
(the default run takes about 3-4 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import probust as pb
from probust.estimators import CCCert, CramerChernoff, Proven, Provero

RADII = {
    "digits-mlp": (0.01, 0.03, 0.1, 0.3),
    "mnist-mlp": (0.003, 0.01, 0.03, 0.1, 0.3),
    "mnist-cnn": (0.003, 0.01, 0.03, 0.1, 0.3),
}


def fragile(model, data, k: int, pool: int = 200) -> list[int]:
    """Indices of the k test inputs with the smallest clean logit margin among the first ``pool``."""
    xs = torch.stack([data[i][0] for i in range(pool)])
    with torch.no_grad():
        top2 = model(xs).topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]).argsort()[:k].tolist()


def tightness(inputs: int, mc_budget: int) -> None:
    print(f"{'model':>10} {'eps':>6} {'in':>3} {'MC p':>8} {'MC 99.9% CI':>21} {'proven':>9} {'s':>4} "
          f"{'hoeff':>9} {'s':>4} {'cramer-ch':>9} {'s':>4} {'cc-cert':>8} {'plug-in':>8} {'s':>4} "
          f"{'provero':>10} {'n':>6} {'s':>4} {'sound':>5}")
    for name, radii in RADII.items():
        model = pb.zoo.load_model(name)
        data = pb.zoo.load_dataset(name.split("-")[0], split="test")
        chosen = fragile(model, data, inputs)
        for eps in radii:
            pert = pb.perturbations.UniformLinf(eps=eps, clip=(0, 1))
            for i in chosen:
                x, _ = data[i]
                mc = pb.estimate(model, x, pert, budget=mc_budget, seed=i, confidence=0.999)
                det = [est.estimate(model, x, pert, budget=1) for est in
                       (Proven(), Proven(law="hoeffding"), CramerChernoff())]
                cc = CCCert().estimate(model, x, pert, budget=500, confidence=0.99, seed=i + 1)
                pv = Provero(theta=0.1, eta=0.01).estimate(model, x, pert, budget=1_000_000, confidence=0.99,
                                                           seed=i + 2)
                sound = all(r.failure_probability >= mc.ci.low for r in det)
                cells = " ".join(f"{r.failure_probability:9.2e} {r.seconds:4.1f}" for r in det)
                print(f"{name:>10} {eps:6.3f} {i:3d} {mc.failure_probability:8.2e} [{mc.ci.low:8.2e}, "
                      f"{mc.ci.high:8.2e}] {cells} {cc.failure_probability:8.2e} "
                      f"{cc.diagnostics['plug_in_bound']:8.1e} {cc.seconds:4.1f} {pv.decision:>10} "
                      f"{pv.n_queries:6d} {pv.seconds:4.1f} {'yes' if sound else 'NO':>5}", flush=True)


def anchor(n_images: int) -> None:
    print(f"\nPROVERO anchor: uniform-linf eps 0.1 (clip 0:1), theta 0.1, eta 0.01, delta 0.01, "
          f"first {n_images} test images")
    print(f"{'model':>10} {'method':>9} {'mean n':>8} {'median n':>8} {'max n':>8} {'robust':>6} {'not':>4} "
          f"{'undec':>5} {'s/input':>7}")
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    for name in ("mnist-mlp", "mnist-cnn"):
        model = pb.zoo.load_model(name)
        data = pb.zoo.load_dataset("mnist", split="test")
        for method in ("provero", "certify"):
            counts, decisions, start = [], [], time.perf_counter()
            for i in range(n_images):
                x, _ = data[i]
                if method == "provero":
                    res = Provero(theta=0.1, eta=0.01).estimate(model, x, pert, budget=1_000_000,
                                                                confidence=0.99, seed=i)
                else:
                    res = pb.certify(model, x, pert, max_failure=0.1, confidence=0.99, seed=i)
                counts.append(res.n_queries)
                decisions.append(res.decision)
            secs = (time.perf_counter() - start) / n_images
            print(f"{name:>10} {method:>9} {statistics.mean(counts):8.1f} {statistics.median(counts):8.0f} "
                  f"{max(counts):8d} {decisions.count('robust'):6d} {decisions.count('not robust'):4d} "
                  f"{decisions.count('undecided'):5d} {secs:7.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=1, help="test inputs per model and radius in table 1")
    ap.add_argument("--mc", type=int, default=20_000, help="Monte Carlo reference budget")
    ap.add_argument("--anchor", type=int, default=20, help="images in the PROVERO anchor table")
    args = ap.parse_args()
    start = time.perf_counter()
    tightness(args.inputs, args.mc)
    anchor(args.anchor)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
