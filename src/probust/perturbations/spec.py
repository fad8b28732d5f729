"""Parse CLI perturbation specs such as ``uniform-linf:eps=0.1,clip=0:1``."""

from __future__ import annotations

import dataclasses

from ..errors import ConfigurationError
from ._base import Perturbation
from .box import Box
from .brightness import Brightness
from .compose import Compose
from .contrast import Contrast
from .gaussian import Gaussian, TruncatedGaussian
from .gaussian_blur import GaussianBlur
from .rotation import Rotation
from .scaling import Scaling
from .text_edits import CharEdits
from .translation import Translation
from .uniform_l2 import UniformL2
from .uniform_linf import UniformLinf

PERTURBATIONS: dict[str, type[Perturbation]] = {
    cls.spec_name: cls for cls in (UniformLinf, UniformL2, Gaussian, TruncatedGaussian, Box,
                                   Rotation, Translation, Scaling, Brightness, Contrast, GaussianBlur, CharEdits)
}
#: ``compose(SPEC;SPEC;...)``: parts applied in turn (:class:`~probust.perturbations.Compose`).
COMPOSE_EXAMPLE = "compose(rotation:deg=15;brightness:delta=0.2,clip=0:1)"


def _example(cls: type[Perturbation]) -> str:
    keys = [f.name for f in dataclasses.fields(cls) if f.name != "clip" and f.default is dataclasses.MISSING]
    return f"{cls.spec_name}:" + ",".join(f"{k}=..." for k in keys)


def parse_perturbation(spec: str) -> Perturbation:
    """Build a perturbation from ``name:key=value,...``; ``clip=lo:hi`` sets the valid input range.

    Examples
    --------
    >>> parse_perturbation("gaussian:sigma=0.25,clip=0:1")
    Gaussian(clip=(0.0, 1.0), sigma=0.25)
    >>> parse_perturbation("compose(rotation:deg=15;brightness:delta=0.2)").to_spec()
    'compose(rotation:deg=15;brightness:delta=0.2)'
    """
    if spec.strip().startswith("compose("):
        inner = spec.strip()[len("compose("):]
        if not inner.endswith(")") or "(" in inner[:-1]:
            raise ConfigurationError(f"bad compose spec {spec!r}; expected {COMPOSE_EXAMPLE} (no nesting)")
        return Compose(parts=tuple(parse_perturbation(part) for part in inner[:-1].split(";")))
    name, _, body = spec.partition(":")
    name = name.strip()
    if name not in PERTURBATIONS:
        known = ", ".join([*(_example(c) for c in PERTURBATIONS.values()), COMPOSE_EXAMPLE])
        raise ConfigurationError(f"unknown perturbation {name!r} in {spec!r}; known: {known}")
    cls = PERTURBATIONS[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    words = {f.name for f in dataclasses.fields(cls) if isinstance(f.default, str)}  # law=, border=, ...
    kwargs: dict[str, object] = {}
    for item in filter(None, body.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if key in kwargs:
            raise ConfigurationError(f"parameter {key!r} is given twice in perturbation spec {spec!r}")
        if not sep or key not in fields:
            raise ConfigurationError(
                f"bad parameter {item!r} in perturbation spec {spec!r}; expected key=value with key in "
                f"{sorted(fields)}, e.g. {_example(cls)}"
            )
        if key in words:
            kwargs[key] = value.strip()
            continue
        try:
            # clip=lo:hi, and per-coordinate values such as eps=0.1:0.2:0.3 or lo=0:0:0
            kwargs[key] = tuple(float(v) for v in value.split(":")) if key == "clip" or ":" in value else float(value)
        except ValueError:
            raise ConfigurationError(f"parameter {key!r} in {spec!r} is not a number: {value!r}") from None
    try:
        return cls(**kwargs)
    except TypeError:
        raise ConfigurationError(f"perturbation spec {spec!r} is incomplete; expected {_example(cls)}") from None
