"""Shared test configuration.

Tests must not change torch's global state (default dtype, grad mode, thread count): probust never
does, and a test that did would hide such a bug. This fixture fails any test that leaves it changed.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_global_state_unchanged():
    before = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads(),
              torch.are_deterministic_algorithms_enabled())
    yield
    after = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads(),
             torch.are_deterministic_algorithms_enabled())
    assert after == before, f"test changed torch global state: {before} -> {after}"
