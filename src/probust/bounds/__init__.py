"""White-box bound propagation: linear bounds of a network's outputs over a set of inputs."""

from .crown import LinearBound, NetworkBounds, UnsupportedLayerError, crown_linear_bounds

__all__ = ["LinearBound", "NetworkBounds", "crown_linear_bounds", "UnsupportedLayerError"]
