"""A shard: the clients one worker trains one after another into one partial aggregate.

Every executor (serial, process pool, Ray) runs its shards through `run_shard`, so what a
client does and how its result is folded is the same everywhere; only where it runs differs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from typing import Protocol

from fedasr.algorithms.base import (
    Broadcast,
    ClientHalf,
    ClientReport,
    ClientTask,
    RoundAccumulator,
)
from fedasr.engine.worker import WorkerContext

log = logging.getLogger(__name__)


class Executor(Protocol):
    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast, client: ClientHalf
    ) -> list[RoundAccumulator]: ...

    def close(self) -> None: ...


def run_shard(
    worker: WorkerContext, shard: Sequence[ClientTask], broadcast: Broadcast, client: ClientHalf
) -> RoundAccumulator:
    """Train a shard's clients one by one into one partial aggregate; a client that raises is
    reported and left out, never allowed to end the round."""
    acc = RoundAccumulator.for_broadcast(broadcast)
    for task in shard:
        try:
            result = client.update(worker, task, broadcast)
        except Exception as err:  # any client failure is contained and reported
            log.debug("client %s failed:\n%s", task.client_id, traceback.format_exc())
            report = failed_report(task, f"{type(err).__name__}: {err}")
            report.stats.update(worker.take_data_report())
            acc.reports.append(report)
            continue
        result.stats.update(worker.take_data_report())  # e.g. pseudo-label counts
        client.fold(acc, result)
    return acc


def failed_report(task: ClientTask, error: str) -> ClientReport:
    return ClientReport(task.client_id, ok=False, error=error, depth=task.depth)


def failed_shard(shard: Sequence[ClientTask], reason: str) -> RoundAccumulator:
    """The partial aggregate of a shard whose worker died or hung: every client failed."""
    return RoundAccumulator({}, reports=[failed_report(task, reason) for task in shard])
