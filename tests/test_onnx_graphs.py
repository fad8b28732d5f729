"""ONNX graphs beyond chains, built with onnx.helper: residual Add, Transpose, Pad, Concat, Sigmoid, rank-1 inputs,
float64 graphs, folded constants, .onnx.gz; each conversion checked against onnxruntime. Bad files and
unsupported operators: one-line errors (exit 2) or a warning naming the operator."""

from __future__ import annotations

import copy
import gzip
import operator
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import probust as pb  # noqa: E402
from probust._onnx import RELATIVE_TOLERANCE, ConvertedOnnx, OnnxModel  # noqa: E402
from probust.bounds import ElementwiseAffine  # noqa: E402
from probust.cli import main  # noqa: E402

RNG = np.random.default_rng(0)

#: What a converted graph may be made of (the layers and functions the bound propagation knows).
LAYERS = (
    torch.nn.Linear,
    torch.nn.Conv2d,
    torch.nn.ReLU,
    torch.nn.Sigmoid,
    torch.nn.Tanh,
    torch.nn.MaxPool2d,
    torch.nn.AvgPool2d,
    torch.nn.BatchNorm1d,
    torch.nn.BatchNorm2d,
    torch.nn.Flatten,
    torch.nn.Unflatten,
    ElementwiseAffine,
)
FUNCTIONS = (operator.add, torch.cat, torch.permute, torch.nn.functional.pad)


def weight(*shape: int, dtype=np.float32) -> np.ndarray:
    return RNG.normal(size=shape).astype(dtype)


def save(tmp_path: Path, name: str, nodes, inputs, output, inits, opset: int = 13, elem=TensorProto.FLOAT) -> Path:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", elem, inputs)],
        [helper.make_tensor_value_info(output, elem, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    path = tmp_path / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def residual(tmp_path: Path) -> Path:
    """x -> conv -> relu -> conv, + x (residual), relu, flatten, gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "W1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "W2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"]),
        helper.make_node("Gemm", ["f", "W3", "b3"], ["y"], transB=1),
    ]
    inits = {"W1": weight(2, 2, 3, 3), "b1": weight(2), "W2": weight(2, 2, 3, 3), "W3": weight(3, 32), "b3": weight(3)}
    return save(tmp_path, "residual", nodes, ["N", 2, 4, 4], "y", inits)


def nhwc_transpose_pad(tmp_path: Path) -> Path:
    """NHWC input transposed to NCHW (marabou-cifar10), padded asymmetrically, average-pooled (verivital)."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Pad", ["t", "pads"], ["p"]),
        helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["a", "W"], ["c"], pads=[0, 1, 1, 0]),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Transpose", ["s"], ["u"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["u", "shape"], ["y"]),
    ]
    inits = {
        "pads": np.array([0, 0, 1, 0, 0, 0, 1, 2], dtype=np.int64),
        "W": weight(2, 3, 2, 2),
        "shape": np.array([-1, 18], dtype=np.int64),
    }
    return save(tmp_path, "nhwc", nodes, ["N", 5, 4, 3], "y", inits)


def concat_tanh(tmp_path: Path) -> Path:
    """Two branches, one through Tanh, concatenated; Sub of two computed tensors; Unsqueeze / Squeeze."""
    nodes = [
        helper.make_node("MatMul", ["x", "A"], ["a"]),
        helper.make_node("Tanh", ["a"], ["ta"]),
        helper.make_node("Gemm", ["x", "B"], ["b"]),
        helper.make_node("Concat", ["ta", "b"], ["c"], axis=1),
        helper.make_node("Sub", ["c", "x"], ["d"]),
        helper.make_node("Unsqueeze", ["d", "axes"], ["e"]),
        helper.make_node("Squeeze", ["e", "axes"], ["f"]),
        helper.make_node("Mul", ["f", "k"], ["y"]),
    ]
    inits = {"A": weight(6, 2), "B": weight(6, 4), "axes": np.array([2], dtype=np.int64), "k": weight(6)}
    return save(tmp_path, "concat", nodes, ["N", 6], "y", inits)


def shape_folded_reshape(tmp_path: Path) -> Path:
    """The Shape -> Gather -> Unsqueeze -> Concat -> Reshape of torch exporters (folded to a constant)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["f"]),
        helper.make_node("Gemm", ["f", "W"], ["y"], transB=1),
    ]
    inits = {
        "zero": np.array(0, dtype=np.int64),
        "axes": np.array([0], dtype=np.int64),
        "minus1": np.array([-1], dtype=np.int64),
        "W": weight(2, 12),
    }
    return save(tmp_path, "folded", nodes, [1, 3, 2, 2], "y", inits)


def rank1(tmp_path: Path, dtype=np.float32, elem=TensorProto.FLOAT) -> Path:
    """An input of rank 1 without a batch axis (nn4sys, VNN-COMP test networks): W @ x + b, relu, x @ V."""
    nodes = [
        helper.make_node("MatMul", ["W", "x"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "V"], ["y"]),
    ]
    inits = {"W": weight(4, 3, dtype=dtype), "b": weight(4, dtype=dtype), "V": weight(4, 2, dtype=dtype)}
    return save(tmp_path, f"rank1_{np.dtype(dtype).name}", nodes, [3], "y", inits, elem=elem)


GRAPHS = {
    "residual": residual,
    "nhwc-transpose-pad": nhwc_transpose_pad,
    "concat-tanh": concat_tanh,
    "shape-folded-reshape": shape_folded_reshape,
    "rank1": rank1,
}


#: One node (or a few) per case: (nodes, input shape, constants, opset), the output is "y".
SMALL = {
    "flatten-negative-axis": ([helper.make_node("Flatten", ["x"], ["y"], axis=-3)], ["N", 2, 3, 4], {}, 13),
    "flatten-unbatched-axis-0": ([helper.make_node("Flatten", ["x"], ["y"], axis=0)], [3], {}, 13),
    "concat-negative-axis": (
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Concat", ["x", "r"], ["y"], axis=-1)],
        ["N", 2, 3],
        {},
        13,
    ),
    "squeeze-unsqueeze-attributes": (
        [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[1, 3]), helper.make_node("Squeeze", ["u"], ["y"], axes=[3])],
        ["N", 2, 3],
        {},
        11,
    ),
    "pad-attribute-value": (
        [helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 1, 2, 0, 0, 2, 0], value=0.5)],
        ["N", 1, 3, 3],
        {},
        2,
    ),
    "gemm-alpha-beta": (
        [helper.make_node("Gemm", ["x", "W", "c"], ["y"], alpha=0.5, beta=2.0, transB=1)],
        ["N", 4],
        {"W": weight(3, 4), "c": weight(1, 3)},
        13,
    ),
    "batchnorm-maxpool": (
        [
            helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"]),
            helper.make_node("MaxPool", ["n"], ["y"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
        ],
        ["N", 2, 3, 3],
        {"s": weight(2), "b": weight(2), "m": weight(2), "v": np.array([0.5, 2.0], dtype=np.float32)},
        13,
    ),
    "div-sub-constant-first": (
        [helper.make_node("Sub", ["k", "x"], ["d"]), helper.make_node("Div", ["d", "k"], ["y"])],
        ["N", 3],
        {"k": np.array([1.0, 2.0, 4.0], dtype=np.float32)},
        13,
    ),
}


@pytest.mark.parametrize("name", SMALL)
def test_single_operators_match_onnxruntime(name, tmp_path):
    nodes, shape, inits, opset = SMALL[name]
    path = save(tmp_path, name, nodes, shape, "y", inits, opset=opset)
    assert_matches_onnxruntime(load(path), path)


def load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning, no torch warning about read-only numpy arrays
        return pb.load_model(path)


def assert_matches_onnxruntime(model: torch.nn.Module, path: Path, dtype=torch.float32) -> None:
    x = (torch.rand(64, *model.input_shape, generator=torch.Generator().manual_seed(1)) * 4 - 2).to(dtype)
    with torch.no_grad():
        mine, theirs = model(x), OnnxModel(path)(x)
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype == dtype
    assert float((mine - theirs).abs().max() / theirs.abs().max()) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("name", GRAPHS)
def test_graphs_convert_to_standard_layers_that_match_onnxruntime(name, tmp_path):
    path = GRAPHS[name](tmp_path)
    model = load(path)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert_matches_onnxruntime(model, path)
    if isinstance(model, torch.fx.GraphModule):  # traceable, and made of the layers and functions the bounds know
        x = torch.rand(3, *model.input_shape)
        with torch.no_grad():
            torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), model(x), rtol=0, atol=0)
        for node in model.graph.nodes:
            if node.op == "call_module":
                assert isinstance(model.get_submodule(node.target), LAYERS), node.target
            elif node.op == "call_function":
                assert node.target in FUNCTIONS, node.target
            else:
                assert node.op in ("placeholder", "output"), node.op
    else:
        assert isinstance(model, ConvertedOnnx) and all(isinstance(m, LAYERS) for m in model)


def test_chains_stay_sequential_and_branches_become_graph_modules(tmp_path):
    assert isinstance(load(rank1(tmp_path)), ConvertedOnnx)
    assert isinstance(load(shape_folded_reshape(tmp_path)), ConvertedOnnx)
    graph = load(residual(tmp_path))
    assert isinstance(graph, torch.fx.GraphModule) and graph.input_shape == (2, 4, 4)
    assert operator.add in {n.target for n in graph.graph.nodes}
    assert copy.deepcopy(graph).input_shape == (2, 4, 4)  # what the VNNLIB loader and the bounds read


def test_rank1_input_has_its_batch_axis_added_by_probust(tmp_path):
    path = rank1(tmp_path)
    model, runtime = load(path), OnnxModel(path)
    assert model.input_shape == runtime.input_shape == (3,) and not runtime.batched
    assert runtime(torch.zeros(5, 3)).shape == (5, 2)
    for m in (model, runtime):  # probust batches a (3,) input; the model takes it as is
        r = pb.estimate(m, torch.zeros(3), pb.perturbations.UniformLinf(eps=0.5), estimator="mc", budget=200, seed=0)
        assert r.n_queries == 200
    assert (
        r.failure_probability
        == pb.estimate(
            model, torch.zeros(3), pb.perturbations.UniformLinf(eps=0.5), estimator="mc", budget=200, seed=0
        ).failure_probability
    )


def test_float64_graph_converts_to_float64_layers(tmp_path):
    path = rank1(tmp_path, np.float64, TensorProto.DOUBLE)
    model = load(path)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert_matches_onnxruntime(model, path, torch.float64)


def test_gzipped_onnx_reads_like_the_plain_file(tmp_path):
    path = residual(tmp_path)
    gz = tmp_path / "residual.onnx.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    x = torch.rand(4, 2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(load(gz)(x), load(path)(x), rtol=0, atol=0)


def test_unsupported_operator_warns_once_and_runs_through_onnxruntime(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "W"], ["h"], transB=1), helper.make_node("Softmax", ["h"], ["y"])]
    path = save(tmp_path, "softmax", nodes, ["N", 2], "y", {"W": np.eye(2, dtype=np.float32)})
    with pytest.warns(UserWarning, match="ONNX operator Softmax is not supported") as record:
        model = pb.load_model(path)
    assert len(record) == 1 and "proven, bab" in str(record[0].message)
    assert isinstance(model, OnnxModel) and "Softmax" in model.conversion_error
    torch.testing.assert_close(model(torch.zeros(1, 2)), torch.full((1, 2), 0.5))
    with pytest.raises(pb.ConfigurationError, match="PROVEN needs the model's layers, but .* Softmax"):
        pb.estimate(model, torch.zeros(2), pb.perturbations.UniformLinf(eps=0.1), estimator="proven", budget=1)


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not an onnx file at all", "cannot read ONNX file"),
        ("truncated", "cannot read ONNX file"),
        ("gz-not-gzip", "cannot decompress"),
        ("gz-truncated", "cannot decompress"),
    ],
)
def test_bad_onnx_files_give_one_line_and_exit_2(content, match, tmp_path, capsys):
    good = residual(tmp_path).read_bytes()
    data = {"truncated": good[: len(good) // 2], "gz-not-gzip": good, "gz-truncated": gzip.compress(good)[:-20]}
    suffix = ".onnx.gz" if str(content).startswith("gz") else ".onnx"
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(data.get(content, content))
    with pytest.raises(pb.ProbustError, match=match):
        pb.load_model(path)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((1, 2, 4, 4), dtype=np.float32))
    code, err = cli(
        capsys,
        "evaluate",
        "--inputs",
        str(inputs),
        "--model",
        str(path),
        "--perturbation",
        "uniform-linf:eps=0.1",
        "--quiet",
    )
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err


def test_vnnlib_whose_input_count_does_not_match_the_network(tmp_path, capsys):
    prop = tmp_path / "p.vnnlib"
    prop.write_text(
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
        "(assert (>= X_0 0)) (assert (<= X_0 1)) (assert (>= X_1 0)) (assert (<= X_1 1))\n"
        "(assert (<= Y_0 0))"
    )
    code, err = cli(capsys, "evaluate", "--vnnlib", str(prop), "--model", str(rank1(tmp_path)), "--quiet")
    assert code == 2 and "2 inputs but the model takes inputs of shape (3,)" in err
    assert len(err.strip().splitlines()) == 1, err


class _Block(torch.nn.Module):
    """A ResNet basic block: conv-bn-relu-conv-bn, plus the input, relu."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(channels, channels, 3, padding=1),
            torch.nn.BatchNorm2d(channels),
            torch.nn.ReLU(),
            torch.nn.Conv2d(channels, channels, 3, padding=1),
            torch.nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + x)


def test_exported_small_resnet_converts_to_a_graph_of_standard_layers(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        _Block(4),
        _Block(4),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 3),
    ).eval()
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # non-trivial statistics
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "resnet.onnx"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated in torch >= 2.9
            # dynamo=False: the newer exporter needs the onnxscript package, not a probust dependency
            torch.onnx.export(
                net,
                (torch.zeros(1, 1, 8, 8),),
                str(path),
                dynamo=False,
                input_names=["x"],
                dynamic_axes={"x": {0: "batch"}},
            )
    except ImportError as err:
        pytest.skip(f"torch.onnx.export needs a missing package: {err}")
    model = load(path)
    assert isinstance(model, torch.fx.GraphModule) and model.input_shape == (1, 8, 8)
    assert sum(n.target is operator.add for n in model.graph.nodes) == 2  # the two residual connections
    assert_matches_onnxruntime(model, path)
    x = torch.rand(16, 1, 8, 8)
    with torch.no_grad():
        mine, theirs = model(x), net(x)
    assert float((mine - theirs).abs().max() / theirs.abs().max()) <= RELATIVE_TOLERANCE  # the torch original too


def test_shipped_acasxu_networks_convert_to_sequential_layers():
    """The 45 ACAS Xu networks of VNN-COMP 2021 (src/probust/zoo/acasxu): chains of layers, as onnxruntime."""
    paths = sorted((Path(pb.__file__).parent / "zoo" / "acasxu").glob("ACASXU_*.onnx"))
    assert len(paths) == 45
    for path in paths:
        model = load(path)
        assert isinstance(model, ConvertedOnnx) and model.input_shape == (1, 1, 5), path.name
        assert_matches_onnxruntime(model, path)
