"""Scale-out of a campaign over a Dask cluster (inputs are independent: one task per input).

Dask distributed was chosen over Ray on measurements on this 2-core machine (docs/design.md): it starts
as fast (2.1 s vs 2.6 s), uses half the memory (4 processes, 0.75 GB vs 10, 1.33 GB) and writes nothing
outside the temp folder. ``--workers N`` starts a local cluster of N single-threaded worker processes;
``--scheduler ADDRESS`` joins a running one. Results do not depend on which worker ran an input: its seed
is ``derive_seed(seed, index)`` and every worker runs torch on one thread, so the arithmetic is the same.
The client alone writes to the SQLite store, as each task completes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .. import _allocator, _commands, _rng, api
from ..result import Result

#: Per worker process: options JSON -> (task, estimator), so the model and data load once per worker.
_LOADED: dict[str, Any] = {}


def evaluate_input(options_json: str, index: int, batch_size: int | None, device: str | None) -> tuple[int, dict]:
    """Run one input on a worker; returns ``(index, Result.to_dict())`` (plain data crosses processes)."""
    torch.set_num_threads(1)  # parallelism comes from the workers; one thread each keeps results identical
    if options_json not in _LOADED:
        options = json.loads(options_json)
        ns = argparse.Namespace(**options, batch_size=batch_size, device=device, quiet=True, json=None)
        estimator = _commands.make_estimator(options["estimator"], options["interval"])
        _LOADED[options_json] = (_commands.prepare(ns, estimator), estimator)
    task, estimator = _LOADED[options_json]
    options = json.loads(options_json)
    result = api.estimate(
        task.model, task.x[index], task.perturbation, estimator=estimator, budget=task.budget,
        confidence=task.confidence, seed=_rng.derive_seed(task.seed, index), label=_commands.reference(task, index),
        batch_size=batch_size, device=device, **_commands.estimate_options(argparse.Namespace(**options)),
    )
    return index, result.to_dict()


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client on a new local cluster of single-threaded workers, or on an existing scheduler."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    _quiet_resource_tracker()
    # silence_logs: a worker whose heartbeat races the scheduler's shutdown logs a CommClosedError traceback at
    # the end of a finished run (seen in 2 of 6 benchmark runs); task errors still reach us via future.result().
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        # Workers of our own cluster are programs of the probust command: they get its allocator setting
        # (probust._allocator: ~1.8x faster CNN inference in the CLI process). Joined clusters are left alone.
        client.run(_allocator.keep_freed_memory)
        yield client


def _quiet_resource_tracker() -> None:
    """Keep the multiprocessing resource tracker from warning about semaphores it cleans up itself.

    Dask's nanny starts workers with the ``spawn`` method, whose semaphores are registered with a tracker
    process (12 for 2 workers). After ``kill -9`` of the ``probust`` process nothing unregisters them, so the
    orphaned tracker prints "There appear to be 12 leaked semaphore objects to clean up at shutdown" into the
    killed run's terminal, often in the middle of the resumed run's output, and in the same breath unlinks them
    (``multiprocessing.resource_tracker.main``): nothing is left behind, and the stored results are complete up
    to the kill. The tracker is a separate interpreter that takes its warning filters only from ``-W`` options
    (``sys.warnoptions``), so the filter goes there, before the first semaphore starts it. A finished or
    Ctrl-C'd run unregisters every semaphore and never reached this warning.
    """
    option = "ignore::UserWarning:multiprocessing.resource_tracker"
    if option not in sys.warnoptions:
        sys.warnoptions.append(option)


def run_distributed(
    options: dict[str, Any], indices: list[int], workers: int | None, scheduler: str | None,
    batch_size: int | None, device: str | None, on_result: Callable[[int, Result], None],
    on_progress: Callable[[], None],
) -> None:
    """Submit every input, store each result as it completes (any order), report progress."""
    from distributed import as_completed

    payload = json.dumps(options, sort_keys=True)
    with dask_client(workers, scheduler) as client:
        futures = [client.submit(evaluate_input, payload, i, batch_size, device, pure=False) for i in indices]
        for future in as_completed(futures):
            index, data = future.result()
            on_result(index, Result.from_dict(data))
            on_progress()
