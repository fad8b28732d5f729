"""Old spellings of public names: they keep working, with a DeprecationWarning that names the new one."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["deprecated_alias"]

P = ParamSpec("P")
R = TypeVar("R")


def deprecated_alias(name: str, new: str, target: Callable[P, R]) -> Callable[P, R]:
    """``target`` under its old name ``name``: same arguments and result, and a DeprecationWarning.

    Parameters
    ----------
    name
        The old function name, as users call it.
    new
        What to write instead, e.g. ``'probust.zoo.load_model("diabetes-mlp")'``.
    target
        What the old name does now.
    """
    message = f"{name}() is deprecated; use {new}"

    def alias(*args: P.args, **kwargs: P.kwargs) -> R:
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return target(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = name
    alias.__doc__ = f"Deprecated: use {new}."
    return alias
