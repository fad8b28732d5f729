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

import os

import pytest
import torch

from probust._allocator import keep_freed_memory
from probust.testing import assert_same_numbers

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


@pytest.fixture
def same_numbers():
    """:func:`assert_same_numbers`, for tests of "same seed, same numbers"."""
    return assert_same_numbers
