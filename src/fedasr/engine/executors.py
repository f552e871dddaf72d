"""Where clients run: in-process (serial) or a pool of long-lived worker processes.

Every executor runs a round as a list of shards (see cohort.plan_shards) and returns one
partial aggregate per shard, in shard order. Each shard's clients run one after another on one
worker with the same number of torch threads, so a shard's partial aggregate — and therefore
the merged round — is bit-identical whichever executor, worker or worker count ran it.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from fedasr.algorithms.base import Broadcast, ClientReport, ClientTask, RoundAccumulator
from fedasr.engine.guard import failed_client_report, guarded_update
from fedasr.engine.worker import WorkerContext, WorkerSpec
from fedasr.errors import ConfigError

log = logging.getLogger(__name__)
BeforeClient = Callable[[int, ClientTask], ClientReport | None]


class Executor(Protocol):
    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast
    ) -> list[RoundAccumulator]: ...

    def close(self) -> None: ...


def run_shard(
    worker: WorkerContext,
    shard: Sequence[ClientTask],
    broadcast: Broadcast,
    before_client: BeforeClient | None = None,
) -> RoundAccumulator:
    """Train a shard's clients one by one into one partial aggregate; a client that raises is
    reported and left out, never allowed to end the round. `before_client(position, task)`
    may return a report that stands for the client instead of running it."""
    acc = RoundAccumulator(worker.layout.numel)
    for position, task in enumerate(shard):
        if before_client is not None and (known := before_client(position, task)) is not None:
            acc.reports.append(known)
            continue
        try:
            result = guarded_update(worker, task, broadcast)  # watchdog + injected faults
        except Exception as err:  # any client failure is contained and reported
            log.debug("client %s failed:\n%s", task.client_id, traceback.format_exc())
            report = failed_client_report(task, err)
            report.stats.update(worker.take_data_report())
            acc.reports.append(report)
            continue
        result.stats.update(worker.take_data_report())  # e.g. pseudo-label counts
        worker.algorithm.accumulate(acc, result)
    return acc


def failed_report(task: ClientTask, error: str, failure: str = "error") -> ClientReport:
    return ClientReport(task.client_id, ok=False, error=error, depth=task.depth, failure=failure)


class SerialExecutor:
    """One worker context in this process: the reference every other executor must match."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._worker: WorkerContext | None = None

    @property
    def worker(self) -> WorkerContext:
        if self._worker is None:
            self._worker = WorkerContext(self.spec)
        return self._worker

    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast
    ) -> list[RoundAccumulator]:
        threads = torch.get_num_threads()
        torch.set_num_threads(self.spec.threads)  # clients run with the pool's thread count
        try:
            return [run_shard(self.worker, shard, broadcast) for shard in shards]
        finally:
            torch.set_num_threads(threads)

    def close(self) -> None:
        self._worker = None


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def make_executor(
    kind: str, spec: WorkerSpec, workers: int, ray_address: str | None = None
) -> Executor:
    if kind == "serial":
        return SerialExecutor(spec)
    if kind == "process":
        from fedasr.engine.process_pool import ProcessExecutor

        return ProcessExecutor(spec, workers)
    if kind == "ray":
        from fedasr.engine.ray_executor import RayExecutor

        return RayExecutor(spec, workers, ray_address)
    raise ConfigError(f"executor.kind: got {kind!r}; allowed: 'serial', 'process', 'ray'")
