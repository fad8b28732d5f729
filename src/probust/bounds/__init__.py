"""White-box bound propagation: linear bounds of a network's outputs over a set of inputs."""

from .crown import LinearBound, NetworkBounds, UnsupportedLayerError, crown_linear_bounds
from .layers import ElementwiseAffine

__all__ = ["ElementwiseAffine", "LinearBound", "NetworkBounds", "crown_linear_bounds", "UnsupportedLayerError"]
