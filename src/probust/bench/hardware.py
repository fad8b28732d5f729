"""Deprecated: the hardware record moved to :mod:`probust.hardware` (training records it too, without PR-Bench)."""

import warnings

from ..hardware import hardware, hardware_id

__all__ = ["hardware", "hardware_id"]

warnings.warn("probust.bench.hardware is deprecated; import hardware and hardware_id from probust.hardware",
              DeprecationWarning, stacklevel=2)
