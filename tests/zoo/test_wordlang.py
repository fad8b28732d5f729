"""The zoo's text classifier: its data from Debian's word lists (skipped where they are not installed), its
record, and PR under character edits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

import probust as pb
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
    info = wordlang.wordlang_record()
    path = Path(wordlang.__file__).parent / info["weights_file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]
    x, y, _ = wordlang.load_words("test")
    with torch.no_grad():
        correct = int((wordlang.load_wordlang_model()(x).argmax(1) == y).sum())
    assert abs(correct - info["test_correct"]) <= 2 and info["test_accuracy"] > 0.8


def test_char_edits_on_the_text_model():
    x, _, _ = wordlang.load_words("test")
    res = pb.estimate(wordlang.load_wordlang_model(), x[0], "char-edits:rate=0.1", budget=500, seed=0)
    assert 0 < res.failure_probability < 1 and res.perturbation == "char-edits:rate=0.1,op=substitute,n_symbols=27"
