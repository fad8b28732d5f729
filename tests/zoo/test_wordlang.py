"""The zoo's text classifier: its data from Debian's word lists (skipped where they are not installed), its
record, and PR under character edits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import probust as pb
from probust import _rng
from probust.cli import main
from probust.zoo import wordlang

try:
    wordlang.load_words("test")
except pb.DataError:
    pytest.skip("Debian word lists not installed (apt-get install wamerican wfrench wngerman wspanish)",
                allow_module_level=True)


def test_split_is_balanced_disjoint_and_encoded():
    (x, y, words), (_, _, train) = wordlang.load_words("test"), wordlang.load_words("train")
    assert x.shape == (4800, 16) and torch.equal(torch.bincount(y), torch.full((4,), 1200))
    assert not set(words) & set(train)
    assert pb.perturbations.text_edits.decode(x[0]) == words[0]


def test_model_matches_its_record():
    info = pb.zoo.model_info("wordlang-cnn")
    x, y = pb.zoo.load_model_data("wordlang-cnn")
    with torch.no_grad():
        correct = int((pb.zoo.load_model("wordlang-cnn")(x).argmax(1) == y).sum())
    assert abs(correct - info["test_correct"]) <= 2 and info["test_accuracy"] > 0.8


def test_old_spellings_warn():
    with pytest.warns(DeprecationWarning, match="wordlang-cnn"):
        assert isinstance(wordlang.load_wordlang_model(), wordlang.WordLangCNN)
    with pytest.warns(DeprecationWarning, match="model_info"):
        assert wordlang.wordlang_record() == pb.zoo.model_info("wordlang-cnn")


def test_char_edits_on_the_text_model():
    x, _, _ = wordlang.load_words("test")
    res = pb.estimate(pb.zoo.load_model("wordlang-cnn"), x[0], "char-edits:rate=0.1", budget=500, seed=0)
    assert 0 < res.failure_probability < 1 and res.perturbation == "char-edits:rate=0.1,op=substitute,n_symbols=27"


def test_the_cli_reaches_the_text_model(tmp_path, capsys):
    x, _ = pb.zoo.load_model_data("wordlang-cnn")
    inputs, path = tmp_path / "words.npy", tmp_path / "out.json"
    np.save(inputs, x[:1].numpy())
    assert main(["evaluate", "--model", "wordlang-cnn", "--inputs", str(inputs), "--perturbation",
                 "char-edits:rate=0.1", "--budget", "300", "--seed", "5", "--quiet", "--json", str(path)]) == 0, (
        capsys.readouterr().err)
    result = json.loads(path.read_text())["results"][0]["result"]
    api = pb.estimate(pb.zoo.load_model("wordlang-cnn"), x[0], "char-edits:rate=0.1", budget=300,
                      seed=_rng.derive_seed(5, 0))
    assert result["failure_probability"] == api.failure_probability
