"""End-to-end case studies: a real safety-critical network, its operational profile, and a system-level claim.

``acasxu`` -- the ACAS Xu collision-avoidance networks from sensor noise to pfd / PFH bounds, the Reluplex
properties, a 1oo2 alternative and a GSN fragment (``probust case-study acasxu``; docs/case-study-acasxu.md).
"""

from .run import QUICK, run_study
from .study import Settings

__all__ = ["QUICK", "Settings", "run_study"]
