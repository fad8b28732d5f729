"""Perturbation models Pr(.|x): standard latents pushed to perturbed inputs (noise and semantic families)."""

from ._base import Perturbation
from ._semantic import Semantic
from .box import Box
from .brightness import Brightness
from .compose import Compose
from .contrast import Contrast
from .gaussian import Gaussian, TruncatedGaussian
from .gaussian_blur import GaussianBlur
from .rotation import Rotation
from .scaling import Scaling
from .spec import PERTURBATIONS, parse_perturbation
from .text_edits import CharEdits
from .translation import Translation
from .uniform_l2 import UniformL2
from .uniform_linf import UniformLinf

__all__ = [
    "PERTURBATIONS",
    "Box",
    "Brightness",
    "CharEdits",
    "Compose",
    "Contrast",
    "Gaussian",
    "GaussianBlur",
    "Perturbation",
    "Rotation",
    "Scaling",
    "Semantic",
    "Translation",
    "TruncatedGaussian",
    "UniformL2",
    "UniformLinf",
    "parse_perturbation",
]
