"""Perturbation models Pr(.|x): latent standard normals pushed to perturbed inputs."""

from ._base import Perturbation
from .box import Box
from .gaussian import Gaussian, TruncatedGaussian
from .spec import PERTURBATIONS, parse_perturbation
from .uniform_l2 import UniformL2
from .uniform_linf import UniformLinf

__all__ = [
    "PERTURBATIONS",
    "Box",
    "Gaussian",
    "Perturbation",
    "TruncatedGaussian",
    "UniformL2",
    "UniformLinf",
    "parse_perturbation",
]
