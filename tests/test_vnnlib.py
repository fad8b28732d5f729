"""VNNLIB properties and ONNX networks as VNN-COMP distributes them: parsing, conversion, the CLI, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import probust as pb
from probust._onnx import ConvertedOnnx, OnnxModel
from probust.cli import main
from probust.vnnlib import VnnlibError, parse_vnnlib

SUITE = Path(pb.__file__).parent / "zoo" / "vnnlib"
INDEX = json.loads((SUITE / "index.json").read_text())
HEADER = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
BOX = "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 0)) (assert (<= X_1 0.5))\n"


def test_box_and_linear_output_constraints():
    text = HEADER + "; a comment\n" + BOX + "(assert (<= (+ Y_0 (* -2 Y_1)) 3.5))\n(assert (>= Y_1 (- 1)))"
    (case,) = parse_vnnlib(text)
    assert case.lo == (-1.0, 0.0) and case.hi == (1.0, 0.5)
    assert case.region.polytopes == ((((-1.0, 2.0), 3.5), ((0.0, 1.0), 1.0)),)
    assert case.perturbation() == pb.perturbations.Box(lo=(-1.0, 0.0), hi=(1.0, 0.5))


def test_disjunctions_with_their_own_boxes_become_separate_cases():
    box2 = "(>= X_0 2) (<= X_0 3) (>= X_1 0) (<= X_1 1)"
    box1 = "(>= X_0 -1) (<= X_0 1) (>= X_1 0) (<= X_1 1)"
    text = HEADER + f"(assert (or (and {box1} (<= Y_0 Y_1)) (and {box1} (>= Y_0 5)) (and {box2} (<= Y_0 Y_1))))"
    cases = parse_vnnlib(text)
    assert [c.lo for c in cases] == [(-1.0, 0.0), (2.0, 0.0)]
    assert [len(c.region.polytopes) for c in cases] == [2, 1]


@pytest.mark.parametrize("text, match", [
    (HEADER + BOX + "(assert (<= Y_0 Y_1)", "unclosed"),
    (HEADER + BOX + "(assert (<= Y_0 Y_1)))", "unbalanced"),
    (HEADER + BOX + "(assert (<= Y_0 Z_1))", "unknown symbol 'Z_1'"),
    (HEADER + "(assert (>= X_0 -1)) (assert (<= X_1 1)) (assert (<= Y_0 Y_1))", "lack a lower or upper bound"),
    (HEADER + "(assert (>= X_0 1)) (assert (<= X_0 0)) (assert (>= X_1 0)) (assert (<= X_1 1)) (assert (<= Y_0 0))",
     "empty"),
    (HEADER + BOX + "(assert (<= X_0 Y_1))", "mixes inputs and outputs"),
    (HEADER + BOX + "(assert (<= (* Y_0 Y_1) 1))", "multiplies two variables"),
    (HEADER + BOX + "(assert (<= (+ X_0 X_1) 1)) (assert (<= Y_0 1))", "only box constraints"),
    (HEADER + BOX, "no output constraint"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 1))", "no outputs declared"),
    (HEADER + BOX + "(assert (= Y_0 Y_1))", "unsupported constraint"),
])
def test_malformed_properties_are_named(text, match):
    with pytest.raises(VnnlibError, match=match):
        parse_vnnlib(text)
    assert issubclass(VnnlibError, pb.ProbustError)


@pytest.mark.parametrize("name", sorted(INDEX))
def test_suite_networks_convert_to_torch_layers_that_match_onnxruntime(name):
    path = SUITE / INDEX[name]["onnx"]
    model = pb.load_model(path)
    assert isinstance(model, ConvertedOnnx), getattr(model, "conversion_error", "")
    x = torch.rand(64, *model.input_shape, generator=torch.Generator().manual_seed(1)) * 4 - 2
    torch.testing.assert_close(model(x), OnnxModel(path)(x), rtol=1e-5, atol=1e-5)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_vnnlib_with_proven_and_amls_writes_status_and_counterexamples(tmp_path, capsys):
    entry = INDEX["maxpool-analytic-4.9e-5"]
    files = ["--vnnlib", str(SUITE / entry["vnnlib"]), "--model", str(SUITE / entry["onnx"]), "--quiet"]
    code, out, _ = cli(capsys, "evaluate", *files, "--estimator", "proven", "--json", str(tmp_path / "p.json"))
    assert code == 0 and "VNNLIB" in out
    bound = json.loads((tmp_path / "p.json").read_text())["results"][0]["result"]
    assert bound["failure_probability"] >= entry["failure_probability"]  # sound
    code, out, _ = cli(capsys, "evaluate", *files, "--estimator", "amls", "--budget", "20000", "--seed", "3",
                       "--json", str(tmp_path / "a.json"))
    assert code == 0
    report = json.loads((tmp_path / "a.json").read_text())
    result = pb.Result.from_dict(report["results"][0]["result"])
    assert result.status == "complete" and report["summary"]["statuses"] == {"complete": 1}
    assert result.ci.low <= entry["failure_probability"] <= result.ci.high
    # counterexamples re-checked against the network and the property
    model, (case,) = pb.load_model(SUITE / entry["onnx"]), pb.vnnlib.read_vnnlib(SUITE / entry["vnnlib"])
    assert result.counterexamples
    for cx in result.counterexamples:
        xp = cx.tensor(torch.float32)
        assert (torch.tensor(case.lo) <= xp.double() + 1e-6).all()
        assert (xp.double() <= torch.tensor(case.hi) + 1e-6).all()
        with torch.no_grad():
            assert float(case.region.score(model(xp[None]).double())[0]) > 0
        torch.testing.assert_close(case.perturbation().apply(case.centre().float(), torch.tensor(cx.latent)[None])[0],
                                   xp, rtol=0, atol=1e-6)


def onnx_with(op: str, tmp_path: Path) -> Path:
    nodes = [helper.make_node("Gemm", ["input", "W"], ["h"], transB=1), helper.make_node(op, ["h"], ["output"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2])],
                              [numpy_helper.from_array(np.eye(2, dtype=np.float32), "W")])
    path = tmp_path / f"{op}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_bad_input_gives_a_clear_error_and_exit_2(tmp_path, capsys):
    prop = tmp_path / "bad.vnnlib"
    prop.write_text(HEADER + BOX + "(assert (<= Y_0 Y_1)")
    net = SUITE / INDEX["collision-like-0"]["onnx"]
    code, _, err = cli(capsys, "evaluate", "--vnnlib", str(prop), "--model", str(net), "--quiet")
    assert code == 2 and "unclosed" in err
    good = tmp_path / "good.vnnlib"
    good.write_text(HEADER + BOX + "(assert (<= Y_0 Y_1))")
    for op, expected in (("Sigmoid", 0), ("Softmax", 2)):  # the bounds follow sigmoid; the converter refuses softmax
        code, _, err = cli(capsys, "evaluate", "--vnnlib", str(good), "--model", str(onnx_with(op, tmp_path)),
                           "--estimator", "proven", "--quiet")
        assert code == expected and (code == 0 or "operator Softmax" in err), err
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((1, 2), dtype=np.float32))
    code, _, err = cli(capsys, "evaluate", "--inputs", str(inputs), "--model", str(onnx_with("Relu", tmp_path)),
                       "--perturbation", "box:lo=1:0,hi=0:1", "--quiet")
    assert code == 2 and "lo > hi" in err
    code, _, err = cli(capsys, "evaluate", "--vnnlib", str(good), "--model", str(net), "--perturbation",
                       "uniform-linf:eps=0.1", "--quiet")
    assert code == 2 and "does not apply with --vnnlib" in err


def test_cli_table_says_when_no_failure_region_was_found(capsys):
    entry = INDEX["collision-like-3"]  # PROVEN certifies p = 0 here
    code, out, _ = cli(capsys, "evaluate", "--vnnlib", str(SUITE / entry["vnnlib"]), "--model",
                       str(SUITE / entry["onnx"]), "--estimator", "amls", "--budget", "8000", "--quiet")
    assert code == 0 and "stalled" in out and "no failure region found" in out
