"""Inputs the commands read: ``--inputs`` array files and ``--indices`` selections.

Every problem a user can cause (missing or corrupt file, wrong format, missing key, an index out of range)
becomes a :class:`~probust.errors.ProbustError` whose message says what to fix. Arrays are read with
``allow_pickle=False``: an object array would unpickle arbitrary code.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigurationError, DataError, first_line

__all__ = ["INPUT_SUFFIXES", "load_inputs", "parse_indices"]

INPUT_SUFFIXES = (".npy", ".npz")
_INDICES_HELP = "use A:B, :B, A:, a single index I or a comma list like 1,5,9"


# -- input files ---------------------------------------------------------------------------------------
def load_inputs(path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read inputs (and optional labels) from ``.npy`` (array ``N x ...``) or ``.npz`` (keys ``x``, ``y``).

    Returns
    -------
    x, y
        float32 inputs of shape ``(N, ...)``, and int64 labels of shape ``(N,)`` or ``None``.

    Raises
    ------
    DataError
        Missing, corrupt or unsupported file, missing key ``x``, non-numeric or non-finite inputs,
        malformed labels.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"inputs file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise DataError(
            f"unsupported inputs file extension {suffix or '(none)'!r} of {path}; use .npy or .npz"
        )
    x, y = _read_arrays(path, suffix)
    return _check_inputs(x, path), (None if y is None else _check_labels(y, len(x), path))


def _read_arrays(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy may warn about a damaged header before raising
            # np.load reads the format from the file's magic bytes, not from its name.
            loaded = np.load(path, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return loaded, None
            with loaded:
                files = list(loaded.files)
                arrays = {key: loaded[key] for key in ("x", "y") if key in files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(
            f"cannot read {path} as {suffix} (corrupt, truncated or pickled?): {first_line(err)}"
        ) from err
    if "x" not in arrays:
        raise DataError(
            f"{path} has no array 'x' (found: {', '.join(files) or 'none'}); "
            "save the inputs with np.savez(path, x=inputs) or np.savez(path, x=inputs, y=labels)"
        )
    return arrays["x"], arrays.get("y")


def _check_inputs(x: np.ndarray, path: Path) -> torch.Tensor:
    if x.dtype.kind not in "iuf":
        raise DataError(f"inputs in {path} must be numbers, got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise DataError(
            f"inputs in {path} must be an array of N >= 1 inputs of shape (N, ...), got shape {x.shape}"
        )
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"inputs in {path} contain NaN or Inf ({len(bad)} inputs, first {bad[:5].tolist()}); clean them"
        )
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _check_labels(y: np.ndarray, n: int, path: Path) -> torch.Tensor:
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise DataError(
            f"labels 'y' in {path} must be {n} integers (shape ({n},)), got {y.dtype} of shape {y.shape}"
        )
    return torch.from_numpy(y.astype(np.int64))


# -- index selections ----------------------------------------------------------------------------------
def parse_indices(text: str | None, n: int) -> list[int]:
    """Resolve an index selection over ``n`` inputs.

    Parameters
    ----------
    text
        ``None`` (all), a slice ``A:B`` / ``:B`` / ``A:`` / ``A:B:S`` (Python semantics, negative counts
        from the end), a single index ``I`` or a comma list ``1,5,9``.
    n
        Number of available inputs.

    Returns
    -------
    list of int
        Non-negative indices in selection order.

    Raises
    ------
    ConfigurationError
        Malformed text, an index or slice bound outside the data, or an empty selection.

    Examples
    --------
    >>> parse_indices("1:4", 10), parse_indices("-1", 10), parse_indices("0,5", 10)
    ([1, 2, 3], [9], [0, 5])
    """
    if text is None:
        return list(range(n))
    indices = _slice_indices(text, n) if ":" in text else _listed_indices(text, n)
    if not indices:
        raise ConfigurationError(f"--indices {text!r} selects no input out of {n}")
    return indices


def _slice_indices(text: str, n: int) -> list[int]:
    pieces = text.split(":")
    if len(pieces) > 3:
        raise ConfigurationError(f"bad --indices {text!r}; {_INDICES_HELP}")
    parts = [_index(p, text) if p.strip() else None for p in pieces]
    for bound in parts[:2]:
        # Python would silently clip; a bound beyond the data is more likely a mistake.
        if bound is not None and not -n <= bound <= n:
            raise ConfigurationError(f"--indices {text!r} is out of range: {_there_are(n)}")
    if parts[2:] == [0]:
        raise ConfigurationError(f"bad --indices {text!r}: the step must not be 0")
    return list(range(n))[slice(*parts)]


def _listed_indices(text: str, n: int) -> list[int]:
    indices = [_index(p, text) for p in text.split(",")]
    for i in indices:
        if not -n <= i < n:
            raise ConfigurationError(f"index {i} in --indices is out of range: {_there_are(n)}")
    return [i % n for i in indices]


def _index(part: str, text: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise ConfigurationError(
            f"bad --indices {text!r}: {part!r} is not an integer; {_INDICES_HELP}"
        ) from None


def _there_are(n: int) -> str:
    return f"there are {n} inputs (indices 0 to {n - 1}, or -{n} to -1 from the end)"
