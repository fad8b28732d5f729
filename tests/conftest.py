"""Shared test configuration.

Tests must not change torch's global state (default dtype, grad mode, thread count): probust never
does, and a test that did would hide such a bug. This fixture fails any test that leaves it changed.

Parallel runs (pytest-xdist, ``make test``): each worker process gets an equal share of the CPUs for torch's
intra-op threads (one each with two workers on two cores), unless ``OMP_NUM_THREADS`` says otherwise, so the
workers do not oversubscribe the machine. Nothing else is needed for a new test to run in parallel: use
``tmp_path`` for files and port 0 (or none) for servers, and keep parametrize ids the same in every worker
(nothing that depends on the time or a fresh random draw: xdist refuses to run when workers collect different
ids, as a gzip header's timestamp once made them).

The test processes keep freed memory in the heap, as the ``probust`` command does (probust._allocator).

Portability: tests about "same numbers" (a seed's results at any batch size or request size, reruns) and
tests of stored gold records get the ``portability`` marker, which ``make test-portability`` reruns
under other kernel paths and thread counts (see the Makefile). A test gets it by its name (containing one
of ``PORTABILITY_WORDS``) or by ``@pytest.mark.portability``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import torch

from probust._allocator import keep_freed_memory

PORTABILITY_WORDS = ("same_seed", "any_batch_size", "not_depend", "reproduc", "record", "stored")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pytest_configure(config: pytest.Config) -> None:
    # The test processes run in the `probust` command's allocator regime (freed buffers stay in the heap):
    # the same numbers, without page-faulting every large temporary back in (a third of some tests' time).
    keep_freed_memory()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, _cpus() // workers))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(word in item.name for word in PORTABILITY_WORDS):
            item.add_marker(pytest.mark.portability)


@pytest.fixture(autouse=True)
def _torch_global_state_unchanged():
    before = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads(),
              torch.are_deterministic_algorithms_enabled())
    yield
    after = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads(),
             torch.are_deterministic_algorithms_enabled())
    assert after == before, f"test changed torch global state: {before} -> {after}"


#: "Same numbers" of model arithmetic (docs/design.md, Randomness). The latents of a seed are bit-identical at
#: any batch size, but the model's float64 arithmetic is not: BLAS kernels pick their summation order by batch
#: shape, CPU and thread count, so a score moves by at most 2 gamma_n sum|terms| (gamma_n ~ n 2^-53), ~1e-14
#: for the small float64 models of these tests. Estimators pass scores through smooth maps (sums, exp/log,
#: gamma quantiles) and bisections to 1e-12 relative (gradient SMC's tempering, <= a few dozen steps), so
#: their floats agree to well under 1e-10 relative; values near 0 (splitting levels are scores) to ~1e-14
#: absolute. The tolerances below are >= 10x those bounds and >= 1e6x below any statistical effect: a seeding
#: bug changes estimates by their Monte Carlo spread (>= 1e-3 relative) and changes counts. Decisions (ints,
#: strings, bools: counts, kills, iterations, statuses, warnings) must be equal exactly; a decision can flip
#: only for a score within rounding of its threshold (an accept/reject or resampling draw), which the models
#: here never came near in any kernel path tried (make test-portability).
SAME_NUMBERS_REL, SAME_NUMBERS_ABS = 1e-9, 1e-12


def _differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=SAME_NUMBERS_REL, abs_tol=SAME_NUMBERS_ABS) or (a != a and b != b)
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def assert_same_numbers(results: Sequence[Any]) -> None:
    """Every result equals the first: decisions exactly, floats within ``SAME_NUMBERS_REL`` / ``_ABS``.

    Results are compared through ``to_dict()``, without the wall-clock ``seconds``.
    """
    dicts = [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in results]
    problems = [d for i, other in enumerate(dicts[1:], 1) for d in _differences(dicts[0], other, f"results[{i}]")]
    assert not problems, "\n".join(problems[:20])


@pytest.fixture
def same_numbers():
    """:func:`assert_same_numbers`, for tests of "same seed, same numbers"."""
    return assert_same_numbers
