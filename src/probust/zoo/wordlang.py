"""An offline text classifier for the ``char-edits`` perturbation: the language of a single word.

No PyPI, Debian or npm package ships a pretrained text classifier with a labelled data set that installs
offline (see docs/design.md, Text). Debian's word lists do ship: ``apt-get install wamerican wfrench wngerman
wspanish`` puts ``american-english``, ``french``, ``ngerman`` and ``spanish`` under ``/usr/share/dict``
(override with ``PROBUST_DICT_DIR``). :func:`load_words` builds a labelled set from them: each word is lower-cased,
accents are stripped (NFKD, combining marks dropped; ß becomes ss), words that are not 3-16 letters a-z after that
are dropped, and so are words found in more than one list (ambiguous). Per language, ``numpy.random.default_rng(0)``
draws 6,000 words (sorted first), the first 1,200 are ``"test"`` and the rest ``"train"``. Inputs are
:func:`probust.perturbations.text_edits.encode` codes of length 16; labels 0-3 in ``LANGUAGES`` order.

:func:`load_wordlang_model`: a character CNN (embedding 16, two width-3 convolutions of 64 channels, max over
positions, linear) trained by ``scripts/train_wordlang.py``; record ``zoo/text/wordlang-cnn.json``.
"""

from __future__ import annotations

import functools
import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from probust.errors import ConfigurationError, DataError
from probust.perturbations.text_edits import ALPHABET, encode
from probust.zoo.models import verified_bytes

__all__ = ["LANGUAGES", "WordLangCNN", "load_wordlang_model", "load_words", "wordlang_record"]

LANGUAGES = ("english", "french", "german", "spanish")
_FILES = ("american-english", "french", "ngerman", "spanish")
LENGTH, PER_LANGUAGE, N_TEST = 16, 6000, 1200
_DIR = Path(__file__).resolve().parent
_RECORD = _DIR / "text" / "wordlang-cnn.json"


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


def wordlang_record() -> dict[str, Any]:
    return json.loads(_RECORD.read_text(encoding="utf-8"))


def load_wordlang_model() -> nn.Module:
    """The trained CNN in eval mode, its weights' sha256 verified before ``torch.load(weights_only=True)``."""
    meta = wordlang_record()
    payload = verified_bytes(_DIR / meta["weights_file"], meta["sha256"], remedy="re-run scripts/train_wordlang.py")
    model = WordLangCNN()
    model.load_state_dict(torch.load(payload, weights_only=True, map_location="cpu"))
    return model.float().eval()
