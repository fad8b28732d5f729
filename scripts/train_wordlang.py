"""Train the zoo's text classifier (probust.zoo.wordlang): the language of a word, from Debian's word lists.

    apt-get install wamerican wfrench wngerman wspanish && python scripts/train_wordlang.py

Adam (lr 3e-3), batch 128, 8 epochs, seed 0, cross-entropy. Writes zoo/weights/wordlang-cnn.pt (a state dict)
and zoo/text/wordlang-cnn.json (test accuracy, sha256).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from probust.zoo.wordlang import LANGUAGES, LENGTH, WordLangCNN, load_words

ZOO = Path(__file__).resolve().parents[1] / "src" / "probust" / "zoo"
EPOCHS, LR, BATCH, SEED = 8, 3e-3, 128, 0


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x, y, _ = load_words("train")
    xt, yt, _ = load_words("test")
    model = WordLangCNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(y)).split(BATCH):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = int((model(xt).argmax(1) == yt).sum())
    weights = ZOO / "weights" / "wordlang-cnn.pt"
    torch.save(model.state_dict(), weights)
    record = {
        "name": "wordlang-cnn", "dataset": "Debian word lists (wamerican, wfrench, wngerman, wspanish)",
        "classes": list(LANGUAGES), "input_shape": [LENGTH], "input": f"text_edits.encode codes, length {LENGTH}",
        "n_train": len(y), "n_test": len(yt), "test_correct": correct, "test_accuracy": round(correct / len(yt), 4),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "weights_file": "weights/wordlang-cnn.pt",
        "training": {"epochs": EPOCHS, "lr": LR, "batch_size": BATCH, "optimizer": "Adam", "seed": SEED,
                     "train_seconds": round(time.perf_counter() - start, 1)},
        "torch_version": torch.__version__,
    }
    (ZOO / "text" / "wordlang-cnn.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
