"""An offline text classifier for the ``char-edits`` perturbation: the language of a single word.

No PyPI, Debian or npm package ships a pretrained text classifier with a labelled data set that installs
offline (see docs/design.md, Text). Debian's word lists do ship: ``apt-get install wamerican wfrench wngerman
wspanish`` puts ``american-english``, ``french``, ``ngerman`` and ``spanish`` under ``/usr/share/dict``
(override with ``PROBUST_DICT_DIR``). :func:`load_words` builds a labelled set from them: each word is lower-cased,
accents are stripped (NFKD, combining marks dropped; ß becomes ss), words that are not 3-16 letters a-z after that
are dropped, and so are words found in more than one list (ambiguous). Per language, ``numpy.random.default_rng(0)``
draws 6,000 words (sorted first), the first 1,200 are ``"test"`` and the rest ``"train"``. Inputs are
:func:`probust.perturbations.text_edits.encode` codes of length 16; labels 0-3 in ``LANGUAGES`` order.

The zoo model ``wordlang-cnn`` (``probust.zoo.load_model("wordlang-cnn")``, ``--model wordlang-cnn``): a character
CNN (embedding 16, two width-3 convolutions of 64 channels, max over positions, linear) trained by
``scripts/train_wordlang.py``; record ``zoo/text/wordlang-cnn.json``.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from probust.errors import ConfigurationError, DataError
from probust.perturbations.text_edits import ALPHABET, encode
from probust.zoo.models import ZooModel, _old_spellings, register_model

__all__ = ["LANGUAGES", "WordLangCNN", "load_wordlang_model", "load_words", "wordlang_record"]

LANGUAGES = ("english", "french", "german", "spanish")
_FILES = ("american-english", "french", "ngerman", "spanish")
LENGTH, PER_LANGUAGE, N_TEST = 16, 6000, 1200


def _normalise(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.strip().lower().replace("ß", "ss"))
    return "".join(c for c in word if not unicodedata.combining(c))


@functools.cache
def _words() -> tuple[tuple[str, ...], ...]:
    root = Path(os.environ.get("PROBUST_DICT_DIR", "/usr/share/dict"))
    lists = []
    for name in _FILES:
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise DataError(f"word list {path} is missing ({err}); apt-get install wamerican wfrench wngerman "
                            "wspanish, or set PROBUST_DICT_DIR") from err
        letters = set(ALPHABET) - {" "}
        lists.append({w for w in map(_normalise, text.splitlines()) if 3 <= len(w) <= LENGTH and set(w) <= letters})
    counts: dict[str, int] = {}
    for words in lists:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    return tuple(tuple(sorted(w for w in words if counts[w] == 1)) for words in lists)


def load_words(split: str = "test") -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Codes ``(N, 16)``, labels ``(N,)`` and the words of one split (``"train"`` or ``"test"``)."""
    if split not in ("train", "test"):
        raise ConfigurationError(f"unknown split {split!r}; valid splits: train, test")
    rng = np.random.default_rng(0)
    words, labels = [], []
    for label, pool in enumerate(_words()):
        chosen = [pool[i] for i in rng.choice(len(pool), PER_LANGUAGE, replace=False)]
        part = chosen[:N_TEST] if split == "test" else chosen[N_TEST:]
        words += part
        labels += [label] * len(part)
    order = np.random.default_rng(1).permutation(len(words))  # mix the languages
    words = [words[i] for i in order]
    x = torch.stack([encode(w, LENGTH) for w in words])
    return x, torch.tensor(labels, dtype=torch.int64)[torch.from_numpy(order)], words


class WordLangCNN(nn.Module):
    """Character CNN over codes ``(batch, 16)`` (0 = padding, masked out of the max) -> 4 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(ALPHABET) + 1, 16, padding_idx=0)
        self.conv1, self.conv2 = nn.Conv1d(16, 64, 3, padding=1), nn.Conv1d(64, 64, 3, padding=1)
        self.head = nn.Linear(64, len(LANGUAGES))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        idx = codes.round().long()
        h = self.embed(idx).transpose(1, 2)
        h = torch.relu(self.conv2(torch.relu(self.conv1(h))))
        h = h.masked_fill((idx == 0).unsqueeze(1), -torch.inf).amax(2)
        return self.head(h)


def _data(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y, _ = load_words(split)
    return x, y


register_model(ZooModel("wordlang-cnn", WordLangCNN, "text/wordlang-cnn.json", _data,
                        script="scripts/train_wordlang.py"))

load_wordlang_model, wordlang_record = _old_spellings("wordlang-cnn", "load_wordlang_model", "wordlang_record")
