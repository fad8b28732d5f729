"""Training methods, the trainer and its files: known answers, reproducibility, bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F

import probust as pb
from probust.cli import main
from probust.errors import ConfigurationError, DataError, ModelError
from probust.training import METHODS, Method, Step, build_model, estimate_seconds, load_record, save_model, train
from probust.training._attacks import walk_back_depth
from probust.training._base import noise_draws
from probust.training.commands import chance_warning
from probust.training.prl_cvar import PRLCVaR
from probust.zoo import load_dataset, load_state_dict_into


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train")[:96]


def _step(eps=0.1, seed=0, progress=0.5):
    return Step(pb.perturbations.UniformLinf(eps=eps, clip=(0.0, 1.0)), eps, torch.Generator().manual_seed(seed),
                progress)


def test_the_method_registry_is_the_component_registry_with_the_baseline_first():
    assert pb.training.METHODS is METHODS is pb.components.registry("method")
    assert list(METHODS)[0] == "erm" and all(issubclass(cls, Method) for cls in METHODS.values())


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_trains_one_epoch(name, digits):
    model, rec = train(build_model("digits-mlp", 0), digits, name, eps=0.1, epochs=1, seed=0, batch_size=32)
    assert rec.method == name and rec.completed and rec.n_train == 96 and len(rec.epoch_loss) == 1
    assert math.isfinite(rec.epoch_loss[0]) and 0 <= rec.epoch_accuracy[0] <= 1
    assert rec.params == METHODS[name]().params() and rec.data_hash == pb.training.data_hash(digits)
    assert rec.hardware["torch_threads"] >= 1 and rec.probust_version == pb.__version__


def test_same_seed_gives_the_same_weights(digits):
    a, _ = train(build_model("digits-mlp", 3), digits, "mix-at", eps=0.1, epochs=1, seed=3, batch_size=32)
    b, _ = train(build_model("digits-mlp", 3), digits, "mix-at", eps=0.1, epochs=1, seed=3, batch_size=32)
    c, _ = train(build_model("digits-mlp", 4), digits, "mix-at", eps=0.1, epochs=1, seed=4, batch_size=32)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.state_dict()["1.weight"], c.state_dict()["1.weight"])


def test_noise_draws_follow_the_training_law():
    x = torch.rand(5, 1, 4, 4)
    xp = noise_draws(x, 3, _step(eps=0.2))
    assert xp.shape == (15, 1, 4, 4)
    assert ((xp - x.repeat(3, 1, 1, 1)).abs() <= 0.2 + 1e-6).all() and xp.min() >= 0 and xp.max() <= 1


def test_cvar_at_beta_one_is_the_mean_loss_and_above_it_otherwise():
    torch.manual_seed(0)
    model = build_model("digits-mlp", 0)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    mean = F.cross_entropy(model(noise_draws(x, 10, _step(seed=1))), y.repeat(10))
    assert PRLCVaR(beta=1.0).loss(model, x, y, _step(seed=1)).item() == pytest.approx(mean.item(), rel=1e-5)
    assert PRLCVaR(beta=0.2).loss(model, x, y, _step(seed=1)).item() > mean.item()


def test_walk_back_depth_is_zero_for_correct_inputs():
    model = build_model("digits-mlp", 0)
    x = torch.rand(6, 1, 8, 8)
    y = model(x).argmax(1)
    assert torch.equal(walk_back_depth(model, x, y, 0.01, 5, (0.0, 1.0)), torch.zeros(6))


def test_saved_model_loads_with_arch_and_weights_only(digits, tmp_path):
    model, rec = train(build_model("digits-mlp", 0), digits, "erm", eps=0.1, epochs=1, arch="digits-mlp")
    save_model(tmp_path / "m.pt", model, rec)
    loaded = load_state_dict_into("digits-mlp", tmp_path / "m.pt")
    assert torch.equal(loaded(digits.x[:4]), model(digits.x[:4]))
    assert load_record(tmp_path / "m.pt") == rec
    assert json.loads((tmp_path / "m.json").read_text())["arch"] == "digits-mlp"


@pytest.mark.parametrize("kwargs, error", [
    ({"method": "nope"}, ConfigurationError), ({"eps": -0.1}, ConfigurationError),
    ({"eps": float("nan")}, ConfigurationError), ({"epochs": 0}, ConfigurationError),
])
def test_bad_arguments_are_refused(kwargs, error, digits):
    args = {"method": "erm", "eps": 0.1, "epochs": 1, **kwargs}
    with pytest.raises(error, match=next(iter(kwargs)) if "method" not in kwargs else "unknown training method"):
        train(build_model("digits-mlp", 0), digits, args.pop("method"), **args)


def test_a_dataset_the_arch_does_not_accept_is_refused(digits):
    with pytest.raises(DataError, match=r"inputs of shape \(1, 8, 8\)"):
        train(build_model("mnist-cnn", 0), digits, "erm", eps=0.1, epochs=1)


@dataclasses.dataclass(frozen=True)
class _Diverges(Method):
    """ERM that returns a NaN loss from the second epoch on."""

    name = "diverges"

    def loss(self, model, x, y, step):
        loss = F.cross_entropy(model(x), y)
        return loss * math.nan if step.progress >= 0.5 else loss


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(digits, tmp_path):
    model = build_model("digits-mlp", 0)
    with pytest.raises(ModelError, match="non-finite loss .* epoch 2, batch 1.* last good checkpoint"):
        train(model, digits, _Diverges(), eps=0.1, epochs=2, checkpoint=tmp_path / "m.pt")
    saved = load_state_dict_into("digits-mlp", tmp_path / "m.pt")
    assert torch.equal(saved(digits.x[:4]), model(digits.x[:4]))  # the model is reset to the checkpoint
    rec = load_record(tmp_path / "m.pt")
    assert not rec.completed and len(rec.epoch_loss) == 1


@pytest.mark.parametrize("extra, message", [
    (["--method", "nope"], "unknown training method"), (["--method", "erm", "--eps", "-1"], "eps must be"),
    (["--method", "erm", "--epochs", "0"], "epochs must be"), (["--method", "erm", "--arch", "mnist-cnn"], "shape"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(extra, message, tmp_path, capsys):
    args = {"--arch": "digits-mlp", "--dataset": "digits", "--eps": "0.1", "--epochs": "1"}
    flags = dict(zip(extra[::2], extra[1::2], strict=True))
    argv = ["train", *[t for k, v in {**args, **flags}.items() for t in (k, v)], "--out", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_trains_and_the_model_evaluates(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["train", "--arch", "digits-mlp", "--dataset", "digits", "--method", "noise-aug", "--eps", "0.1",
                 "--epochs", "1", "--n-train", "64", "--out", str(out), "--quiet"]) == 0
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert main(["evaluate", "--model", str(out), "--arch", "digits-mlp", "--dataset", "digits", "--indices", "0:2",
                 "--perturbation", "uniform-linf:eps=0.1,clip=0:1", "--budget", "200", "--seed", "0", "--quiet"]) == 0


def test_chance_warning_is_for_accuracy_closer_to_chance_than_to_one():
    labels = torch.tensor([0] * 6 + [1] * 4)  # chance 0.6 (always answering 0): the midpoint is 0.8
    assert "near chance (60.0%" in chance_warning(0.79, labels)
    assert chance_warning(0.8, labels) is None


def test_the_estimate_times_a_copy_and_leaves_the_model_and_the_rng_alone():
    model = build_model("mnist-cnn", 0)  # batch norm: a forward pass in train mode would move its statistics
    data = load_dataset("mnist", "train")[:64]
    before, rng = {k: v.clone() for k, v in model.state_dict().items()}, torch.get_rng_state()
    seconds = estimate_seconds(model, data, "pgd-at", eps=0.1, epochs=2, batch_size=32)
    assert seconds > 0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_cli_warns_when_the_trained_model_is_near_chance(tmp_path, capsys):
    assert main(["train", "--arch", "digits-mlp", "--dataset", "digits", "--method", "erm", "--eps", "0.1",
                 "--epochs", "1", "--n-train", "32", "--lr", "1e-6", "--out", str(tmp_path / "m.pt")]) == 0
    out, err = capsys.readouterr()
    assert "test images" in out and "warning: the trained model classifies" in err
    assert "epoch 1/1" in err  # not a terminal: one line per epoch in place of the bar
