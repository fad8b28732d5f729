"""What a timing depends on: the machine and the software, recorded with every bench cell and training record.

Wall seconds and query throughput are only comparable between rows measured on the same hardware with the
same thread count; the leaderboards print this record next to the times (the comparability rule of
docs/pr-bench.md, :func:`probust.reporting.hardware_line`). A top-level module because PR-Bench and training
both record it: neither package imports the other for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from typing import Any

import numpy as np
import scipy
import torch

from ._version import __version__


def hardware() -> dict[str, Any]:
    """Platform, CPU, core and thread counts, library versions of this process."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "probust": __version__,
    }


def hardware_id(record: dict[str, Any]) -> str:
    """Short stable id of a hardware record (sha256 of its canonical JSON)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]


def _cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo on Linux (``platform.processor()`` is often empty there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
