"""One JSON layout for every result-like object: the :class:`Serialisable` mixin of frozen dataclasses.

``to_dict()`` gives plain JSON types (non-finite floats as ``"inf"`` / ``"-inf"`` / ``"nan"``) with the class
name under ``"kind"`` and the layout version under ``"schema_version"``; ``from_dict`` rebuilds the object,
nested records and intervals included, from the fields' type hints, after the class's ``_migrate`` has brought
an older layout up to date. A dictionary without ``"schema_version"`` is read as version 1.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from .errors import DataError

__all__ = ["Serialisable", "jsonable"]

S = TypeVar("S", bound="Serialisable")


def jsonable(value: Any) -> Any:
    """Convert numpy / torch scalars and arrays, tuples, mappings and dataclasses into plain JSON types."""
    if isinstance(value, Serialisable):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return jsonable(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf/nan; "inf" / "-inf" / "nan" round-trip through float()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


class Serialisable:
    """Mixin of the frozen result dataclasses: ``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json``.

    Attributes
    ----------
    schema_version
        Version of the class's JSON layout; raise it when a field is renamed or re-read differently, and
        teach ``_migrate`` to read the previous layouts. Adding a field with a default needs no new version.
    """

    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary of the fields, with ``"kind"`` and ``"schema_version"`` (``from_dict`` inverts it)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return jsonable({**fields, "kind": type(self).__name__, "schema_version": self.schema_version})

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as JSON text; ``kwargs`` go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        """Rebuild the object (or the subclass its ``"kind"`` names) from ``to_dict()``'s output or an older one.

        Raises
        ------
        DataError
            ``data`` is of another kind, or of a layout newer than this version of probust reads.
        """
        data = dict(data)
        kind = data.pop("kind", cls.__name__)
        target = next((c for c in _family(cls) if c.__name__ == kind), None)
        if target is None:
            raise DataError(f"a record of kind {kind!r} is not a {cls.__name__}")
        version = data.pop("schema_version", 1)
        if version > target.schema_version:
            raise DataError(f"this {kind} has layout version {version}; this probust reads up to "
                            f"{target.schema_version}: upgrade probust to read it")
        return target(**_fields(target, target._migrate(data, version)))

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        return cls.from_dict(json.loads(text))

    @classmethod
    def _migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Bring ``data`` of layout ``version`` to the current layout (the hook for classes that change theirs)."""
        return data


def _family(cls: type) -> list[type]:
    """``cls`` and its subclasses, in depth-first order (a stored ``kind`` may name any of them)."""
    return [cls, *(c for sub in cls.__subclasses__() for c in _family(sub))]


@functools.cache
def _readers(cls: type) -> dict[str, Callable[[Any], Any]]:
    """Each field's reader, by name (cached: resolving the string annotations dominates reading a record)."""
    return {name: _reader(hint) for name, hint in typing.get_type_hints(cls).items()}


def _fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The dataclass ``cls``'s constructor arguments from JSON ``data`` (unknown keys are left for it to refuse)."""
    readers = _readers(cls)
    return {key: None if value is None else readers.get(key, _as_is)(value) for key, value in data.items()}


def _as_is(value: Any) -> Any:
    return value


@functools.cache
def _reader(hint: Any) -> Callable[[Any], Any]:
    """What reads a JSON value into the type ``hint`` names: records, dataclasses, tuples, mappings and floats."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) > 1:
            return _as_is
        inner = _reader(options[0])
        return lambda value: None if value is None else inner(value)
    if hint is tuple or origin is tuple:
        items = [_reader(a) for a in args if a is not Ellipsis]
        if args[-1:] == (Ellipsis,):
            return lambda value: tuple(map(items[0], value))
        return (lambda value: tuple(read(v) for read, v in zip(items, value, strict=True))) if items else tuple
    if origin in (dict, Mapping):
        item = _reader(args[1]) if args else _as_is
        wrap = dict if origin is dict else types.MappingProxyType  # a Mapping field is read-only
        return lambda value: wrap({k: item(v) for k, v in value.items()})
    if isinstance(hint, type) and issubclass(hint, Serialisable):
        return hint.from_dict
    if dataclasses.is_dataclass(hint):
        return lambda value: hint(**_fields(hint, value))
    return float if hint is float else _as_is  # float() reads "inf" / "nan" back
