"""Training for probabilistic robustness: one file per method behind one base, one trainer, the PRBench protocol.

>>> import probust as pb
>>> sorted(pb.training.METHODS)[:3]
['at-pr', 'erm', 'evar']

``pb.training.train(model, dataset, method="at-pr", eps=0.1, epochs=10, seed=0)`` returns the trained model
and a frozen :class:`TrainingRecord`; :func:`evaluate_protocol` measures it by the PRBench protocol with
intervals. See docs/training.md.
"""

from ._base import Method, Step
from .methods import METHODS, get_method
from .protocol import KAPPAS, RADII, ProtocolResult, RadiusPR, evaluate_protocol
from .trainer import TrainingRecord, accuracy, build_model, data_hash, estimate_seconds, load_record, save_model, train

__all__ = [
    "KAPPAS", "METHODS", "RADII", "Method", "ProtocolResult", "RadiusPR", "Step", "TrainingRecord", "accuracy",
    "build_model", "data_hash", "estimate_seconds", "evaluate_protocol", "get_method", "load_record", "save_model",
    "train",
]
