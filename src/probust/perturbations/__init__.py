"""Perturbation models Pr(.|x): standard latents pushed to perturbed inputs (noise and semantic families).

Each family registers itself (``probust.components.register``) when its module is imported below, in the order
``probust list`` shows them: noise families, then semantic ones.
"""

# isort: off
from ._base import Perturbation
from ._semantic import Semantic
from .uniform_linf import UniformLinf
from .uniform_l2 import UniformL2
from .gaussian import Gaussian, TruncatedGaussian
from .box import Box
from .rotation import Rotation
from .translation import Translation
from .scaling import Scaling
from .brightness import Brightness
from .contrast import Contrast
from .gaussian_blur import GaussianBlur
from .text_edits import CharEdits
from .compose import Compose
from .spec import PERTURBATIONS, parse_perturbation
# isort: on

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
