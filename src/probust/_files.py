"""Files the commands write: output paths checked before the work, and atomic writes of reports.

A report is written to a temporary file in its directory and renamed over the target, so a crash or Ctrl-C
leaves either the old file or the complete new one, never half a report.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = ["check_output_path", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def check_output_path(path: str | Path) -> Path:
    """Fail early (before hours of computation) if ``path`` cannot receive a file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigurationError(f"output path {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigurationError(f"output directory {path.parent} does not exist; create it first")
    return path


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) so that ``path`` holds either the old content or the complete new one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old content or the complete new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename is atomic),
    are flushed and fsynced, then renamed over ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; a report should be as readable as any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
