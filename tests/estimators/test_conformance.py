"""The contract every estimator must keep, checked for each entry of the registry by the library's own kit.

A new estimator is covered by these tests just by being registered (``probust.components.register``).
"""

from __future__ import annotations

from probust.testing import check_estimator, parametrize


@parametrize("estimator")
def test_every_registered_estimator_keeps_the_contract_at_the_same_seed_any_batch_size(unit):
    check_estimator(unit)
