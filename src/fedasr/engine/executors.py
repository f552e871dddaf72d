"""Where clients run: in-process (serial) or a pool of long-lived worker processes.

Every executor runs a round as a list of shards (see cohort.plan_shards) and returns one
partial aggregate per shard, in shard order. Each shard's clients run one after another on one
worker with the same number of torch threads, so a shard's partial aggregate — and therefore
the merged round — is bit-identical whichever executor, worker or worker count ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from fedasr.algorithms.base import Broadcast, ClientHalf, ClientTask, RoundAccumulator
from fedasr.engine.shards import Executor, run_shard
from fedasr.engine.worker import WorkerContext, WorkerSpec
from fedasr.errors import ConfigError

log = logging.getLogger(__name__)


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
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast, client: ClientHalf
    ) -> list[RoundAccumulator]:
        threads = torch.get_num_threads()
        torch.set_num_threads(self.spec.threads)  # clients run with the pool's thread count
        try:
            return [run_shard(self.worker, shard, broadcast, client) for shard in shards]
        finally:
            torch.set_num_threads(threads)

    def close(self) -> None:
        self._worker = None


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
