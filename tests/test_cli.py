"""Tests of the ``probust`` command line (``probust.cli``) and its file handling (``probust._inputs``,
``probust._files``, ``probust.model_loading``).

Most runs call ``main([...])`` in-process; a few go through ``python -m probust.cli`` to check the real
exit status and stderr of the program. Budgets are small: these tests check plumbing, not statistics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import probust
from probust import _rng, zoo
from probust._files import write_json_atomic
from probust._inputs import parse_indices
from probust.cli import main
from probust.errors import ConfigurationError

MODEL, DATASET = "digits-mlp", "digits"  # the fastest zoo pair
# eps large enough that some inputs fail sometimes, so agreement checks compare non-trivial counts
SPEC = "uniform-linf:eps=0.3,clip=0:1"
BUDGET = "500"


class NanNet(torch.nn.Module):
    """A model whose every output is NaN (scripted to a TorchScript file below)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 10), float("nan"))


def evaluate_args(*extra: str, model: str = MODEL) -> list[str]:
    return ["evaluate", "--model", model, "--perturbation", SPEC, "--budget", BUDGET, "--quiet", *extra]


def run_ok(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``main(argv)``, require success, return stdout."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def results_without_time(path: Path) -> list[dict]:
    """The per-input results of a JSON report, minus the wall-clock seconds."""
    results = json.loads(path.read_text())["results"]
    for entry in results:
        del entry["result"]["seconds"]
    return results


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """User-side files: models in every supported format, input arrays, and broken files."""
    root = tmp_path_factory.mktemp("files")
    model = zoo.load_model(MODEL)
    data = zoo.load_dataset(DATASET)
    paths = {name: root / name for name in (
        "scripted.pt", "nan.pt", "state.pth", "garbage.pt", "x.npy", "xy.npz", "wide.npy", "nox.npz",
    )}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates TorchScript
        torch.jit.script(model).save(str(paths["scripted.pt"]))
        torch.jit.script(NanNet()).save(str(paths["nan.pt"]))
    torch.save(model.state_dict(), paths["state.pth"])
    paths["garbage.pt"].write_bytes(np.random.default_rng(0).bytes(4096))
    x, y = data.x[:3].numpy(), data.y[:3].numpy()
    np.save(paths["x.npy"], x)
    np.savez(paths["xy.npz"], x=x, y=y)
    np.save(paths["wide.npy"], np.zeros((3, 5), np.float32))
    np.savez(paths["nox.npz"], inputs=x)
    return paths


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated in torch >= 2.9
            # dynamo=False: the newer exporter needs the onnxscript package, not a probust dependency
            torch.onnx.export(zoo.load_model(MODEL), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False,
                              input_names=["pixels"], dynamic_axes={"pixels": {0: "batch"}})
    except ImportError as err:
        pytest.skip(f"torch.onnx.export needs a missing package: {err}")
    return path


# -- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_report_matches_direct_estimate(tmp_path, capsys):
    out_path = tmp_path / "out.json"
    argv = evaluate_args("--dataset", DATASET, "--indices", "0:3", "--seed", "7", "--json", str(out_path))
    out = run_ok(argv, capsys)
    assert "probust evaluate" in out and "mean PR" in out
    report = json.loads(out_path.read_text())
    assert report["config"]["indices"] == [0, 1, 2] and report["config"]["seed"] == 7
    assert report["command"][:2] == ["probust", "evaluate"]
    model, data = zoo.load_model(MODEL), zoo.load_dataset(DATASET)
    failures = 0
    for entry in report["results"]:
        i = entry["index"]
        direct = probust.estimate(model, data.x[i], SPEC, budget=int(BUDGET), seed=_rng.derive_seed(7, i))
        got = probust.Result.from_dict(entry["result"])
        assert entry["true_label"] == int(data.y[i])
        assert (got.failure_probability, got.ci, got.n_queries, got.seed, got.failure) == (
            direct.failure_probability, direct.ci, direct.n_queries, direct.seed, direct.failure)
        failures += got.diagnostics["n_failures"]
    assert failures > 0, "pick a larger eps: the agreement check compares only zero counts"
    assert report["summary"]["total_queries"] == 3 * int(BUDGET)


def test_evaluate_is_reproducible_and_per_input(tmp_path, capsys):
    runs = {name: tmp_path / f"{name}.json" for name in ("a", "b", "single")}
    for name, indices in (("a", "0:3"), ("b", "0:3"), ("single", "2")):
        run_ok(evaluate_args("--dataset", DATASET, "--indices", indices, "--json", str(runs[name])), capsys)
    first, second = results_without_time(runs["a"]), results_without_time(runs["b"])
    assert first == second
    assert results_without_time(runs["single"]) == [first[2]]


def test_evaluate_label_source_dataset_and_interval(tmp_path, capsys):
    out_path = tmp_path / "out.json"
    argv = evaluate_args("--dataset", DATASET, "--indices", "0,1", "--label", "dataset",
                         "--interval", "wilson", "--json", str(out_path))
    run_ok(argv, capsys)
    report = json.loads(out_path.read_text())
    assert report["config"]["label_source"] == "dataset"
    for entry in report["results"]:
        assert entry["result"]["failure"] == f"label-change:label={entry['true_label']}"
        assert entry["result"]["ci"]["method"] == "wilson"


@pytest.mark.parametrize(
    ("model_key", "extra"),
    [("scripted.pt", []), ("state.pth", ["--arch", MODEL])],
    ids=["torchscript", "state-dict"],
)
@pytest.mark.parametrize("inputs_key", ["x.npy", "xy.npz"])
def test_user_model_and_inputs_files(files, tmp_path, capsys, model_key, extra, inputs_key):
    # Same weights and inputs as the zoo run, hence the same numbers.
    user, zoo_run = tmp_path / "user.json", tmp_path / "zoo.json"
    run_ok(evaluate_args("--inputs", str(files[inputs_key]), *extra, "--json", str(user),
                         model=str(files[model_key])), capsys)
    run_ok(evaluate_args("--dataset", DATASET, "--indices", "0:3", "--json", str(zoo_run)), capsys)
    user_results, zoo_results = results_without_time(user), results_without_time(zoo_run)
    assert [r["result"] for r in user_results] == [r["result"] for r in zoo_results]
    expected_labels = [r["true_label"] for r in zoo_results] if inputs_key == "xy.npz" else [None] * 3
    assert [r["true_label"] for r in user_results] == expected_labels


def test_public_load_model_reads_zoo_names_and_every_file_format(files):
    x = zoo.load_dataset(DATASET).x[:3]
    reference = zoo.load_model(MODEL)(x)
    for model in (probust.load_model(MODEL), probust.load_model(files["scripted.pt"]),
                  probust.load_model(str(files["state.pth"]), arch=MODEL)):
        assert not model.training and torch.equal(model(x), reference)
    with pytest.raises(probust.ModelLoadError, match="model file not found"):
        probust.model_loading.load_model_file(MODEL)  # the file loader takes no zoo name


def test_onnx_model(onnx_file, files, tmp_path, capsys):
    out_path = tmp_path / "onnx.json"
    argv = evaluate_args("--inputs", str(files["xy.npz"]), "--label", "dataset", "--json", str(out_path),
                         model=str(onnx_file))
    out = run_ok(argv, capsys)
    assert "mean PR" in out
    results = json.loads(out_path.read_text())["results"]
    assert [r["result"]["n_queries"] for r in results] == [int(BUDGET)] * 3


# -- errors ------------------------------------------------------------------------------------------
BAD_RUNS = {
    "negative eps": (["--perturbation", "uniform-linf:eps=-0.1"], "eps"),
    "unknown estimator": (["--estimator", "nope"], "unknown estimator"),
    "unknown perturbation family": (["--perturbation", "laplace:scale=1"], "unknown perturbation"),
    "unknown zoo model": (["--model", "mnist-resnet"], "unknown model"),
    "missing model file": (["--model", "tmp:missing.pt"], "not found"),
    "corrupt weights": (["--model", "file:garbage.pt", "--arch", MODEL], "cannot read"),
    "corrupt file, no arch": (["--model", "file:garbage.pt"], "corrupt"),
    "state dict without arch": (["--model", "file:state.pth"], "--arch"),
    "arch with a zoo model": (["--arch", MODEL], "--arch"),
    "inputs of the wrong shape": (["--inputs", "file:wide.npy"], "has shape (5,), but digits-mlp takes inputs of shape "
                                                                 "(1, 8, 8)"),
    "model returning NaN": (["--model", "file:nan.pt"], "NaN"),
    "missing inputs file": (["--inputs", "tmp:missing.npy"], "not found"),
    "npz without x": (["--inputs", "file:nox.npz"], "no array 'x'"),
    "labels requested but absent": (["--inputs", "file:x.npy", "--label", "dataset"], "needs true labels"),
    "bad indices syntax": (["--indices", "1-3"], "--indices"),
    "indices out of range": (["--indices", "355:400"], "out of range"),
    "confidence 1.5": (["--confidence", "1.5"], "confidence"),
    "budget 0": (["--budget", "0"], "budget"),
    "negative seed": (["--seed", "-1"], "seed"),
    "split with inputs file": (["--inputs", "file:x.npy", "--split", "train"], "--split"),
    "missing output directory": (["--json", "tmp:no/such/dir/out.json"], "does not exist"),
    "usage error": (["--budget"], "expected one argument"),
}


def bad_run_args(extra: list[str], files: dict[str, Path], tmp_path: Path) -> list[str]:
    """Default run (zoo model on the zoo data set, JSON to tmp_path) with ``extra`` options overriding.

    In ``extra``, ``file:NAME`` stands for a file of the ``files`` fixture and ``tmp:NAME`` for a path in
    ``tmp_path``.
    """
    extra = [resolve(arg, files, tmp_path) for arg in extra]
    source = [] if "--inputs" in extra else ["--dataset", DATASET, "--indices", "0:2"]
    # argparse keeps the last value of a repeated option, so extra overrides the defaults
    return evaluate_args(*source, "--json", str(tmp_path / "out.json"), *extra)


def resolve(arg: str, files: dict[str, Path], tmp_path: Path) -> str:
    kind, _, name = arg.partition(":")
    if kind == "file":
        return str(files[name])
    return str(tmp_path / name) if kind == "tmp" else arg


@pytest.mark.parametrize(("extra", "message"), BAD_RUNS.values(), ids=BAD_RUNS.keys())
def test_bad_run_fails_cleanly(files, tmp_path, capsys, extra, message):
    code = main(bad_run_args(extra, files, tmp_path))
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.json").exists()
    assert not list(tmp_path.glob("*.json*")), "no report and no temporary file"


# Every bad run is checked in-process above; these check the process's exit status for the two stages an
# error can come from (the arguments, loading the model): each costs an interpreter and torch start-up.
@pytest.mark.parametrize("case", ["negative eps", "corrupt weights"])
def test_bad_run_exit_status_in_subprocess(files, tmp_path, case):
    extra, message = BAD_RUNS[case]
    command = [sys.executable, "-m", "probust.cli", *bad_run_args(extra, files, tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: the machine may be shared
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.json").exists()


def test_interrupt_exits_130_without_report(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(probust.api, "estimate", interrupted)
    out_path = tmp_path / "out.json"
    assert main(evaluate_args("--dataset", DATASET, "--indices", "0:2", "--json", str(out_path))) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out_path.exists()


def test_interrupt_after_some_inputs_prints_and_writes_them_marked_partial(tmp_path, capsys, monkeypatch):
    estimate, calls = probust.api.estimate, []

    def interrupted_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return estimate(*args, **kwargs)

    monkeypatch.setattr(probust.api, "estimate", interrupted_on_third)
    out_path = tmp_path / "out.json"
    assert main(evaluate_args("--dataset", DATASET, "--indices", "0:4", "--json", str(out_path))) == 130
    out, err = capsys.readouterr()
    assert "interrupted after 2 of 4 inputs" in err and "marked partial" in err
    assert "over 2 inputs" in out  # the summary line of the finished rows
    report = json.loads(out_path.read_text())
    assert [r["index"] for r in report["results"]] == [0, 1]
    assert report["summary"]["partial"] == {"finished": 2, "selected": 4}
    assert report["summary"]["n_inputs"] == 2


# -- certify and list --------------------------------------------------------------------------------
def test_certify_prints_decisions_and_writes_json(tmp_path, capsys):
    out_path = tmp_path / "cert.json"
    argv = ["certify", "--model", MODEL, "--dataset", DATASET, "--indices", "0:3", "--perturbation", SPEC,
            "--max-failure", "0.05", "--budget", "2000", "--quiet", "--json", str(out_path)]
    out = run_ok(argv, capsys)
    report = json.loads(out_path.read_text())
    decisions = [entry["result"]["decision"] for entry in report["results"]]
    assert set(decisions) <= {"robust", "not robust", "undecided"} and len(decisions) == 3
    assert all(d in out for d in decisions)
    assert report["config"]["max_failure"] == 0.05
    assert sum(report["summary"][k] for k in ("robust", "not_robust", "undecided")) == 3


def test_certify_rejects_bad_threshold(tmp_path, capsys):
    argv = ["certify", "--model", MODEL, "--dataset", DATASET, "--perturbation", SPEC, "--max-failure", "2"]
    assert main(argv) == 2
    assert "max_failure" in capsys.readouterr().err


def test_list(capsys):
    out = run_ok(["list"], capsys)
    for name in (*zoo.list_models(), *zoo.list_datasets(), "uniform-linf:eps=0.03,clip=0:1", "mc", "trades"):
        assert name in out


def test_help_exits_zero(capsys):
    assert main(["evaluate", "--help"]) == 0
    assert "--perturbation" in capsys.readouterr().out


# -- input and output files --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (None, [0, 1, 2, 3, 4]), ("1:3", [1, 2]), (":2", [0, 1]), ("3:", [3, 4]), ("-2:", [3, 4]),
    ("::2", [0, 2, 4]), ("4", [4]), ("-1", [4]), ("0,4,2", [0, 4, 2]),
])
def test_parse_indices(text, expected):
    assert parse_indices(text, 5) == expected


@pytest.mark.parametrize("text", ["5", "-6", "0:6", "3:1", "a", "1:2:0", "1:2:3:4", "1,,2", ""])
def test_parse_indices_rejects(text):
    with pytest.raises(ConfigurationError):
        parse_indices(text, 5)


def test_write_json_atomic_replaces_without_leftovers(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    with pytest.raises(ValueError):  # NaN is not JSON: the old file must survive, no temporary file left
        write_json_atomic(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("estimator, note", [("proven", "certified"), ("cc-cert", "PAC bound"), ("mc", None)])
def test_evaluate_says_when_the_interval_is_a_bound(estimator, note, capsys):
    out = run_ok(evaluate_args("--dataset", DATASET, "--indices", "0", "--estimator", estimator), capsys)
    notes = [line for line in out.splitlines() if line.startswith("[p low, p high] is")]
    assert len(notes) == (note is not None) and all(note in line for line in notes), out


def test_every_pr_summary_says_how_many_clean_predictions_are_wrong(tmp_path, capsys):
    """PR is measured around the model's own prediction: a headline PR must come with the clean accuracy."""
    path = tmp_path / "r.json"
    out = run_ok(["evaluate", "--model", MODEL, "--dataset", DATASET, "--indices", "0:30", "--budget", "100",
                  "--perturbation", "uniform-linf:eps=0.05,clip=0:1", "--quiet", "--json", str(path)], capsys)
    report = json.loads(path.read_text())
    truth = [(r["true_label"], r["result"]["label"]) for r in report["results"]]
    correct = sum(y == label for y, label in truth)
    assert report["summary"]["clean_accuracy"] == {"correct": correct, "inputs": 30}
    assert f"clean accuracy {correct}/30" in out
