"""Write probust's small VNN-COMP-format suite (ONNX networks + VNNLIB properties) to src/probust/zoo/vnnlib/.

* ``maxpool-analytic``: 6 inputs, 40 ReLUs, a 1-D max-pool of 4, 2 outputs, built so that its failure probability
  is known exactly. Neurons 0-3 compute u_0..u_3 and neurons 4-7 compute u_4, u_5, u_4, u_5, with u_i the input
  rescaled to [0, 1] over the box (so the ReLUs pass them unchanged); the other 32 neurons are random and feed
  nothing. Pooling gives m0 = max(u_0..u_3) and m1 = max(u_4, u_5); Y_0 = m0 + m1 and Y_1 = s. The property
  fails when Y_0 <= Y_1, with probability P(m0 + m1 <= s) = int_0^s 4a^3 (s - a)^2 da = s^6 / 15 (s <= 1).
  Two properties: s^6 / 15 = 4.6e-18 and s = 0.3 (4.86e-5).
* ``collision-like-<k>``: random nets of the same shape (the issue's CollisionDetection-style networks), each with
  a property "Y_0 >= Y_1 over a box" stated as its violation (assert (<= Y_0 Y_1)), the box placed around a point
  where Y_0 - Y_1 = MARGINS[k].
* ``three-class``: 4 inputs, 24 ReLUs, a 2-D max-pool, 3 outputs; one property file with two input boxes, each
  "class 0 stays on top" violated by (or (>= Y_1 Y_0) (>= Y_2 Y_0)).

Run from the repository root: ``python scripts/make_vnnlib_suite.py`` (deterministic; needs onnx).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path("src/probust/zoo/vnnlib")
TARGET = 4.6e-18
#: Clean margin Y_0 - Y_1 at the box centre and box radius scale of each collision-like net: a mix of properties
#: that fail often, rarely and (as far as 1e6 samples tell) never.
MARGINS = (0.2, 0.2, 0.4, 1.0, 0.3, 0.6)
SCALES = (0.2, 0.2, 0.2, 0.1, 0.1, 0.15)


def onnx_chain(name: str, n_in: int, nodes: list, inits: dict[str, np.ndarray], n_out: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", n_out])],
        [numpy_helper.from_array(v if v.dtype.kind in "iu" else v.astype(np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="probust")
    onnx.checker.check_model(model)
    return model


def pooled_1d(w1, b1, w2, b2, pool: int) -> onnx.ModelProto:
    """Gemm -> Relu -> Reshape (N, 1, 40) -> MaxPool(pool) -> Flatten -> Gemm: VNN-COMP's usual export."""
    nodes = [
        helper.make_node("Gemm", ["input", "W1", "b1"], ["h1"], transB=1),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Reshape", ["r1", "shape"], ["r1c"]),
        helper.make_node("MaxPool", ["r1c"], ["p1"], kernel_shape=[pool], strides=[pool]),
        helper.make_node("Flatten", ["p1"], ["f1"], axis=1),
        helper.make_node("Gemm", ["f1", "W2", "b2"], ["output"], transB=1),
    ]
    inits = {"W1": w1, "b1": b1, "shape": np.array([-1, 1, w1.shape[0]], dtype=np.int64), "W2": w2, "b2": b2}
    return onnx_chain("pooled", w1.shape[1], nodes, inits, w2.shape[0])


def vnnlib(lo, hi, outputs: str, n_out: int, comment: str) -> str:
    lines = [f"; {comment}", *(f"(declare-const X_{i} Real)" for i in range(len(lo))),
             *(f"(declare-const Y_{j} Real)" for j in range(n_out)), ""]
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        lines += [f"(assert (>= X_{i} {float(a)!r}))", f"(assert (<= X_{i} {float(b)!r}))"]
    return "\n".join([*lines, outputs, ""])


def analytic(index: dict) -> None:
    rng = np.random.default_rng(0)
    lo, hi = -1.0 + rng.random(6) * 0.5, 0.5 + rng.random(6) * 0.5
    w1, b1 = rng.normal(size=(40, 6)) / 2, rng.normal(size=40) / 2
    select = [0, 1, 2, 3, 4, 5, 4, 5]
    w1[:8], b1[:8] = 0.0, 0.0
    for row, i in enumerate(select):  # u_i = (x_i - lo_i) / (hi_i - lo_i)
        w1[row, i], b1[row] = 1.0 / (hi[i] - lo[i]), -lo[i] / (hi[i] - lo[i])
    w2 = np.zeros((2, 10))
    w2[0, :2] = 1.0
    for tag, p in (("4.6e-18", TARGET), ("4.9e-5", 0.3**6 / 15)):
        s = (15 * p) ** (1 / 6)
        model = pooled_1d(w1, b1, w2, np.array([0.0, s]), pool=4)
        net = f"maxpool-analytic-{tag}.onnx"
        onnx.save(model, OUT / net)
        prop = f"maxpool-analytic-{tag}.vnnlib"
        (OUT / prop).write_text(vnnlib(lo, hi, "(assert (<= Y_0 Y_1))", 2,
                                       f"violated iff max(u_0..u_3) + max(u_4, u_5) <= {float(s)!r}: p = s^6 / 15"))
        index[f"maxpool-analytic-{tag}"] = {"onnx": net, "vnnlib": prop, "failure_probability": s**6 / 15,
                                            "gold": "exact: s^6 / 15"}


def collision_like(index: dict, count: int = len(MARGINS)) -> None:
    for k in range(count):
        rng = np.random.default_rng(100 + k)
        w1, b1 = rng.normal(size=(40, 6)) / 2, rng.normal(size=40) / 2
        w2, b2 = rng.normal(size=(2, 10)) / 2, np.zeros(2)
        centre = rng.random(6) * 2 - 1
        h = np.maximum(w1 @ centre + b1, 0).reshape(10, 4).max(1)
        y = w2 @ h
        b2[1] = y[0] - y[1] - MARGINS[k]  # Y_0 - Y_1 = MARGINS[k] at the centre
        model = pooled_1d(w1, b1, w2, b2, pool=4)
        radius = SCALES[k] * (0.5 + 0.5 * rng.random(6))
        net, prop = f"collision-like-{k}.onnx", f"collision-like-{k}.vnnlib"
        onnx.save(model, OUT / net)
        (OUT / prop).write_text(vnnlib(centre - radius, centre + radius, "(assert (<= Y_0 Y_1))", 2,
                                       "property Y_0 >= Y_1 over the box, stated as its violation"))
        index[f"collision-like-{k}"] = {"onnx": net, "vnnlib": prop, "gold": "none (Monte Carlo)"}


def three_class(index: dict) -> None:
    rng = np.random.default_rng(7)
    w1, b1 = rng.normal(size=(24, 4)) / 2, rng.normal(size=24) / 2
    w2, b2 = rng.normal(size=(3, 6)) / 2, np.zeros(3)
    nodes = [
        helper.make_node("Gemm", ["input", "W1", "b1"], ["h1"], transB=1),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Reshape", ["r1", "shape"], ["r1c"]),
        helper.make_node("MaxPool", ["r1c"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f1"], axis=1),
        helper.make_node("Gemm", ["f1", "W2", "b2"], ["output"], transB=1),
    ]
    boxes = []
    for centre in (np.array([0.3, -0.2, 0.1, 0.5]), np.array([-0.4, 0.6, -0.1, 0.0])):
        boxes.append((centre - 0.08, centre + 0.08))
    h = np.maximum(w1 @ boxes[0][0] + b1, 0).reshape(6, 2, 2).max((1, 2))
    b2 = -(w2 @ h) + np.array([0.6, 0.0, -0.2])  # class 0 leads at the first box's corner
    inits = {"W1": w1, "b1": b1, "shape": np.array([-1, 6, 2, 2], dtype=np.int64), "W2": w2, "b2": b2}
    model = onnx_chain("three-class", 4, nodes, inits, 3)
    onnx.save(model, OUT / "three-class.onnx")
    lines = ["; class 0 stays on top over two boxes; violated by (or (>= Y_1 Y_0) (>= Y_2 Y_0))",
             *(f"(declare-const X_{i} Real)" for i in range(4)), *(f"(declare-const Y_{j} Real)" for j in range(3)),
             "(assert (or"]
    for lo, hi in boxes:
        bounds = " ".join(f"(>= X_{i} {float(a)!r}) (<= X_{i} {float(b)!r})"
                          for i, (a, b) in enumerate(zip(lo, hi, strict=True)))
        lines += [f"  (and {bounds} (>= Y_1 Y_0))", f"  (and {bounds} (>= Y_2 Y_0))"]
    (OUT / "three-class.vnnlib").write_text("\n".join([*lines, "))", ""]))
    index["three-class"] = {"onnx": "three-class.onnx", "vnnlib": "three-class.vnnlib", "gold": "none (Monte Carlo)"}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    index: dict = {}
    analytic(index)
    collision_like(index)
    three_class(index)
    (OUT / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    print(f"wrote {len(index)} network/property pairs to {OUT}; p(analytic) = {TARGET:g} "
          f"(log10 {math.log10(TARGET):.2f})")


if __name__ == "__main__":
    main()
