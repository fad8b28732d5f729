"""PR of the zoo models for the frontier properties (issue 12): explanation stability, conformal-set stability
and regression tolerance, with Clopper-Pearson intervals and the cost per input.

    nice python benchmarks/frontier_properties.py [--budget 2000] [--inputs 10] [--eps 0.15]

MNIST models: inputs 0..n-1 of the test split (its first half; the second half calibrates the conformal sets),
uniform L-inf noise of radius eps clipped to [0, 1], Monte Carlo. Diabetes MLP: test RMSE, then the PR of
``regression-tolerance`` under Gaussian noise on the standardised features.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import probust as pb
from probust.conformal import zoo_conformal


def row(name: str, results: list[pb.Result], seconds: float) -> None:
    prs = np.array([r.pr for r in results])
    cells = " ".join(f"{r.pr:.3f}[{1 - r.ci.high:.3f},{1 - r.ci.low:.3f}]" for r in results)
    print(f"  {name:<34} mean PR {prs.mean():.3f} (min {prs.min():.3f})  {seconds / len(results):.2f} s/input")
    print(f"    per input: {cells}")


def run(model, data, n: int, failure, pert: str, budget: int, seed: int) -> tuple[list[pb.Result], float]:
    start = time.perf_counter()
    results = [pb.estimate(model, data.x[i], pert, failure=failure, budget=budget, seed=seed + i) for i in range(n)]
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--eps", type=float, default=0.15)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pert = f"uniform-linf:eps={args.eps},clip=0:1"
    print(f"{pert}, MC {args.budget} samples per input, inputs 0..{args.inputs - 1} of the test split, "
          "PR[95% Clopper-Pearson]")
    for name in ("mnist-mlp", "mnist-cnn"):
        model, data = pb.zoo.load_model(name).eval(), pb.zoo.load_dataset("mnist", "test")
        predictor, (coverage, size) = zoo_conformal(name, args.alpha)
        print(f"{name}: conformal LAC alpha={args.alpha}: qhat={predictor.qhat:.4f} (500 calibration images), "
              f"coverage {coverage:.3f} and mean set size {size:.3f} on the other 500 test images")
        cases = [
            ("label-change", model, pb.LabelChange()),
            ("explanation-topk k=20 min=0.6 (gxi)", pb.Saliency(model), pb.ExplanationTopK(20, 0.6)),
            ("explanation-corr pearson 0.4 (gxi)", pb.Saliency(model), pb.ExplanationCorrelation(0.4)),
            ("explanation-corr pearson 0.9 (gxi)", pb.Saliency(model), pb.ExplanationCorrelation(0.9)),
            ("conformal-cover", model, pb.ConformalCover(predictor.qhat)),
            ("conformal-size", model, pb.ConformalSize(predictor.qhat)),
        ]
        if name == "mnist-mlp":
            cases.insert(2, ("explanation-topk k=20 min=0.6 (IG 16)",
                             pb.Saliency(model, "integrated-gradients", steps=16), pb.ExplanationTopK(20, 0.6)))
        for label, queried, failure in cases:
            results, seconds = run(queried, data, args.inputs, failure, pert, args.budget, args.seed)
            row(label, results, seconds)
    regression(args)
    text(args)


def regression(args: argparse.Namespace) -> None:
    model, test = pb.zoo.load_model("diabetes-mlp"), pb.zoo.load_diabetes("test")
    with torch.inference_mode():
        rmse = float(((model(test.x).squeeze(1) - test.y) ** 2).mean().sqrt())
    print(f"diabetes-mlp: test RMSE {rmse:.2f} on {len(test.y)} patients (target sd {float(test.y.std()):.1f})")
    for sigma, tol in ((0.05, 5.0), (0.1, 5.0), (0.1, 10.0)):
        pert = f"gaussian:sigma={sigma}"
        results, seconds = run(model, test, args.inputs, pb.RegressionTolerance(tol), pert, args.budget, args.seed)
        row(f"regression-tolerance {tol:g}, {pert}", results, seconds)



def text(args: argparse.Namespace) -> None:
    from probust.zoo.wordlang import load_words

    model, (x, y, words) = pb.zoo.load_model("wordlang-cnn"), load_words("test")
    print(f"wordlang-cnn: test accuracy {pb.zoo.model_info('wordlang-cnn')['test_accuracy']:.3f} on {len(y)} words; "
          f"inputs: {', '.join(words[:args.inputs])}")
    data = type("Words", (), {"x": x})
    for pert in ("char-edits:rate=0.1,op=substitute", "char-edits:rate=0.1,op=delete",
                 "char-edits:rate=0.2,op=substitute"):
        results, seconds = run(model, data, args.inputs, pb.LabelChange(), pert, args.budget, args.seed)
        row(f"label-change, {pert}", results, seconds)


if __name__ == "__main__":
    main()
