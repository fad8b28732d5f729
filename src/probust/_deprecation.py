"""Old spellings of public names: they keep working, with a DeprecationWarning that names the new one."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

__all__ = ["deprecated_alias", "renamed_constants"]

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


def renamed_constants(module: str, renamed: Mapping[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves each old name of ``renamed`` (old -> (new name, value)) with a
    DeprecationWarning, and raises the usual AttributeError for anything else."""

    def __getattr__(name: str) -> Any:
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, value = renamed[name]
        warnings.warn(f"{module}.{name} is deprecated; use {module}.{new}", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__
