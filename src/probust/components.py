"""One component model for the four kinds of extension unit: estimators, perturbations, properties, training methods.

A component is a frozen dataclass whose fields are its parameters. A field declares its constraint once, next to
its default, with :func:`param`; the base class enforces every constraint at construction, before anything runs,
with one message that names the parameter, the value and what is allowed. Rules between fields go in one
``validate()``. Every component has ``params()`` (its fields as a dict) and ``to_spec()`` (the spec string that
:func:`get` reads back), and capability ``tags`` that tests and tools select on instead of listing names.

>>> import probust as pb
>>> pb.components.get("estimator", "amls:n_particles=2000")
AdaptiveMultilevelSplitting(rho=0.1, n_particles=2000, n_steps=7, target_acceptance=0.3, initial_step=0.5)
>>> pb.estimators.GradientSMC(n_particles=2.5)
Traceback (most recent call last):
...
probust.errors.ConfigurationError: gradient-smc: n_particles must be an integer >= 2 (or None), got 2.5

The spec grammar is the one perturbations always had: ``NAME`` or ``NAME:key=value,key=value`` (a component may
override :meth:`Component.from_spec` for a grammar of its own, as ``compose(...)`` does). Why not pydantic or
attrs validators: the constraints must also *describe* themselves (messages, ``probust list``) and *generate*
invalid values for the conformance kits (:mod:`probust.testing`), as scikit-learn's ``_parameter_constraints``
do; that is a page of code over the standard dataclasses every unit already is.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from .errors import ConfigurationError

__all__ = [
    "KINDS", "PROBABILITY", "Component", "Constraint", "Flag", "Interval", "Options", "Registry", "get", "param",
    "register", "registry",
]

Closed = Literal["both", "left", "right", "neither"]
#: The kinds of extension unit, each with its registry, and what messages call them.
KINDS = {"estimator": "estimator", "perturbation": "perturbation", "property": "failure property",
         "method": "training method"}
C = TypeVar("C", bound=type)


class Constraint(ABC):
    """What values a parameter may take: checks (and normalises) a value, parses spec text, describes itself."""

    @abstractmethod
    def check(self, value: Any) -> Any:
        """The value, normalised (e.g. an int as a float for a real parameter); ``ValueError`` if not allowed."""

    @abstractmethod
    def describe(self) -> str:
        """What is allowed, as it reads after "must be", e.g. ``a number in (0, 1)``."""

    def parse(self, text: str) -> Any:
        """The value of spec text (before ``check``)."""
        return text

    def invalid(self) -> tuple[Any, ...]:
        """Values that violate the constraint (the conformance kits try each at construction)."""
        return ()


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """An integer or a finite real number in an interval; ``low``/``high`` ``None`` for an open end.

    ``closed`` says which ends belong to it, as scikit-learn's ``Interval`` does. Booleans are not numbers here,
    and an integer parameter refuses 2.5 (and 2.0: a count written as a float is a mistake somewhere upstream).
    """

    type: type[int] | type[float]
    low: float | None = None
    high: float | None = None
    closed: Closed = "both"

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError
        if self.type is int:
            if not isinstance(value, numbers.Integral):
                raise ValueError
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        if not (low_ok and high_ok):
            raise ValueError
        return value

    def describe(self) -> str:
        noun = "an integer" if self.type is int else "a number"
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}"
        return f"a finite {'integer' if self.type is int else 'number'}"

    def parse(self, text: str) -> Any:
        return int(text) if self.type is int else float(text)

    def invalid(self) -> tuple[Any, ...]:
        out: list[Any] = ["x", True, math.nan if self.type is float else 2.5]
        if self.low is not None:
            out.append(self.low if self.closed in ("right", "neither") else self.low - 1)
        if self.high is not None:
            out.append(self.high if self.closed in ("left", "neither") else self.high + 1)
        return tuple(out)


@dataclasses.dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (words, or numbers such as ``p in {2, inf}``)."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)

    def check(self, value: Any) -> Any:
        for allowed in self.values:  # the declared value itself, so that 2 becomes the option 2.0
            if isinstance(value, str) == isinstance(allowed, str) and not isinstance(value, bool) and value == allowed:
                return allowed
        raise ValueError

    def describe(self) -> str:
        return "one of " + ", ".join(map(_text, self.values))

    def parse(self, text: str) -> Any:
        for allowed in self.values:
            if text == _text(allowed):
                return allowed
        try:
            return float(text)
        except ValueError:
            return text

    def invalid(self) -> tuple[Any, ...]:
        return ("bogus",)


@dataclasses.dataclass(frozen=True)
class Flag(Constraint):
    """True or False (``true``/``false`` in a spec)."""

    def check(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError
        return value

    def describe(self) -> str:
        return "True or False"

    def parse(self, text: str) -> Any:
        return {"true": True, "false": False}.get(text.lower(), text)

    def invalid(self) -> tuple[Any, ...]:
        return ("yes", 2)


def _text(value: Any) -> str:
    """A value as a spec writes it: numbers in their shortest exact form, ``inf`` for infinity."""
    if isinstance(value, float):
        return "inf" if value == math.inf else f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


#: A probability strictly between 0 and 1 (a level, a fraction, a threshold on p).
PROBABILITY = Interval(float, 0, 1, "neither")


def param(default: Any = dataclasses.MISSING, check: Constraint | None = None, **field_options: Any) -> Any:
    """A component parameter: a dataclass field with its constraint; ``None`` is allowed where it is the default."""
    return dataclasses.field(default=default, metadata={"check": check}, **field_options)


class Component:
    """Base of estimators, perturbations, properties and training methods (frozen dataclasses).

    Subclasses declare ``kind`` (on the base of each kind), ``name`` (the registry name), optionally ``tags``
    and ``example`` (a spec string that builds a typical instance), and their parameters with :func:`param`.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    #: Capabilities, e.g. ``{"needs-gradients"}``; see docs/adding-a-unit.md for the tags in use.
    tags: ClassVar[frozenset[str]] = frozenset()
    #: A spec string that builds a typical instance (default: the name with its required parameters as ``...``).
    example: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            check = field.metadata.get("check")
            value = getattr(self, field.name)
            if check is None or (value is None and field.default is None):
                continue
            try:
                normalised = check.check(value)
            except ValueError:
                none = " (or None)" if field.default is None else ""
                raise ConfigurationError(
                    f"{self.name}: {field.name} must be {check.describe()}{none}, got {value!r}") from None
            object.__setattr__(self, field.name, normalised)
        self.validate()

    def validate(self) -> None:
        """Rules between parameters (each parameter alone is checked by its constraint); ConfigurationError."""

    def params(self) -> dict[str, Any]:
        """The parameters by name (what results record)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_spec(self) -> str:
        """``name`` and the spec parameters that differ from their defaults: ``get(kind, to_spec())`` rebuilds it
        (fields without a constraint, such as a reference filled in from the clean input, are left out)."""
        items = [f"{f.name}={_text(getattr(self, f.name))}" for f in self.spec_fields().values()
                 if f.default is dataclasses.MISSING or getattr(self, f.name) != f.default]
        return f"{self.name}:{','.join(items)}" if items else self.name

    @classmethod
    def spec_fields(cls) -> dict[str, dataclasses.Field]:
        """The parameters a spec string may set: those with a constraint (it parses the text)."""
        return {f.name: f for f in dataclasses.fields(cls) if f.init and f.metadata.get("check")}  # type: ignore[arg-type]

    @classmethod
    def from_spec(cls, body: str, spec: str = "") -> Component:
        """Build from the text after the name (``:key=value,...`` or empty); ``spec`` is the whole, for messages."""
        if "no-spec" in cls.tags:
            raise ConfigurationError(f"{KINDS[cls.kind]} {cls.name} cannot be built from a spec string: {cls.example}")
        return cls(**cls.parse_items(body, spec or f"{cls.name}{body}"))

    @classmethod
    def demo(cls) -> Component:
        """A typical instance (the conformance kits test it): built from ``example``; override if there is none."""
        return cls.from_spec(example_of(cls)[len(cls.name):])

    @classmethod
    def parse_items(cls, body: str, spec: str, options: Mapping[str, Constraint] | None = None,
                    complete: bool = True) -> dict[str, Any]:
        """``:key=value,...`` as keyword arguments, each value parsed by its field's constraint.

        ``options``: further keys that are not fields (checked here, since no constructor will); ``complete``:
        whether every required field must be given.
        """
        if body and not body.startswith(":"):
            raise ConfigurationError(f"bad {KINDS[cls.kind]} spec {spec!r}; expected {example_of(cls)}")
        fields = cls.spec_fields()
        checks = {**{n: f.metadata["check"] for n, f in fields.items()}, **(options or {})}
        kwargs: dict[str, Any] = {}
        for item in filter(None, (i.strip() for i in body[1:].split(","))):
            key, sep, text = (s.strip() for s in item.partition("="))
            if not sep or key not in checks:
                raise ConfigurationError(
                    f"bad parameter {item!r} in {KINDS[cls.kind]} spec {spec!r}; {cls.name} takes "
                    f"{', '.join(checks) or 'no parameters'} (key=value), e.g. {example_of(cls)}")
            if key in kwargs:
                raise ConfigurationError(f"parameter {key!r} is given twice in {KINDS[cls.kind]} spec {spec!r}")
            try:
                none = text == "None" and key in fields and fields[key].default is None
                kwargs[key] = None if none else checks[key].parse(text)
                if key not in fields:
                    kwargs[key] = checks[key].check(kwargs[key])
            except ValueError:
                raise ConfigurationError(f"{key}={text!r} in {KINDS[cls.kind]} spec {spec!r} is not "
                                         f"{checks[key].describe()}") from None
        missing = [n for n in _required(cls) if n not in kwargs]
        if missing and complete:
            raise ConfigurationError(f"{KINDS[cls.kind]} spec {spec!r} is incomplete: give {', '.join(missing)}, "
                                     f"e.g. {example_of(cls)}")
        return kwargs


def _required(cls: type) -> list[str]:
    """The fields a class cannot be built without."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING]


def example_of(cls: type[Component]) -> str:
    """The class's example spec, or its name with the required parameters as ``key=...``."""
    if cls.example:
        return cls.example
    required = _required(cls)
    return f"{cls.name}:" + ",".join(f"{k}=..." for k in required) if required else cls.name


class Registry(Mapping[str, type]):
    """The components of one kind by name: ``get(spec)`` builds one, ``names()`` lists them.

    A read-only mapping name -> class (what ``probust.estimators.ESTIMATORS`` and the like always were).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.noun = KINDS[kind]
        self._classes: dict[str, type[Component]] = {}

    def register(self, cls: C) -> C:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or any(c in name for c in ":,=;() "):
            raise ConfigurationError(f"{cls.__name__} needs a class attribute name, a word such as 'my-{self.kind}'")
        if self._classes.get(name, cls) is not cls:
            raise ConfigurationError(f"{self.noun} name {name!r} is taken by {self._classes[name].__name__}")
        self._classes[name] = cls  # type: ignore[assignment]
        return cls

    def get(self, spec: str | Component) -> Any:
        """An instance from a spec string (``NAME`` or ``NAME:key=value,...``), or the instance itself."""
        if isinstance(spec, Component):
            if spec.kind != self.kind:
                raise ConfigurationError(f"expected a {self.noun}, got a {KINDS[spec.kind]} ({spec.to_spec()})")
            return spec
        if not isinstance(spec, str):
            raise ConfigurationError(f"expected a {self.noun} spec string or instance, got {spec!r}")
        text = spec.strip()
        cut = min((i for i in (text.find(":"), text.find("(")) if i >= 0), default=len(text))
        name = text[:cut].strip()
        if name not in self._classes:
            raise ConfigurationError(f"unknown {self.noun} {name!r} in {spec!r}; known: {', '.join(self.examples())}")
        return self._classes[name].from_spec(text[cut:], spec)

    def names(self) -> list[str]:
        return list(self._classes)

    def examples(self) -> list[str]:
        """One example spec per entry."""
        return [example_of(cls) for cls in self._classes.values()]

    def ready(self) -> list[str]:
        """The names of the entries that build with their default parameters (no required one)."""
        return [n for n, cls in self._classes.items() if not _required(cls)]

    def tagged(self, tag: str) -> list[str]:
        """The names of the entries that carry ``tag``."""
        return [n for n, cls in self._classes.items() if tag in cls.tags]

    def __getitem__(self, name: str) -> type:
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._classes)})"


_REGISTRIES = {kind: Registry(kind) for kind in KINDS}


def registry(kind: str) -> Registry:
    """The registry of one kind: ``"estimator"``, ``"perturbation"``, ``"property"`` or ``"method"``."""
    if kind not in _REGISTRIES:
        raise ConfigurationError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _REGISTRIES[kind]


def register(cls: C) -> C:
    """Class decorator: add a component to the registry of its kind (``@register`` above ``@dataclass``)."""
    kind = getattr(cls, "kind", None)
    if not (isinstance(cls, type) and issubclass(cls, Component)) or kind not in _REGISTRIES:
        raise ConfigurationError(f"register takes a subclass of an Estimator, Perturbation, Property or Method, "
                                 f"got {cls!r}")
    return _REGISTRIES[kind].register(cls)


def get(kind: str, spec: str | Component) -> Any:
    """``registry(kind).get(spec)``: an instance from a spec string such as ``amls:n_particles=2000``."""
    return registry(kind).get(spec)
