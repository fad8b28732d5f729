"""scipy's submodules, imported on first use.

``import probust`` should cost little more than ``import torch`` (issue 27): ``scipy.stats`` and
``scipy.special`` take about 0.35 s and 0.3 s to import, and most commands use them only once a run starts.
Modules write ``from .._scipy import special, stats`` and use ``special.ndtr`` as before; the real module is
imported at the first attribute read, and its names are then copied onto the stand-in, so later reads are plain
attribute lookups.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["integrate", "optimize", "signal", "special", "stats"]


class _OnFirstUse:
    """A stand-in for a module that imports it when one of its names is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        module = importlib.import_module(self._name)
        self.__dict__.update(vars(module))
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"


integrate, optimize, signal, special, stats = (_OnFirstUse(f"scipy.{n}")
                                               for n in ("integrate", "optimize", "signal", "special", "stats"))
