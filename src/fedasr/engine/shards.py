"""A shard: the clients one worker trains one after another into one partial aggregate.

Every executor (serial, process pool, Ray) runs its shards through `run_shard`, so what a
client does and how its result is folded is the same everywhere; only where it runs differs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

from fedasr.algorithms.base import (
    Broadcast,
    ClientHalf,
    ClientReport,
    ClientTask,
    RoundAccumulator,
)
from fedasr.engine.guard import failed_client_report, guarded_update
from fedasr.engine.worker import WorkerContext

log = logging.getLogger(__name__)


class Executor(Protocol):
    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast, client: ClientHalf
    ) -> list[RoundAccumulator]: ...

    def close(self) -> None: ...


BeforeClient = Callable[[int, ClientTask], ClientReport | None]


def run_shard(
    worker: WorkerContext,
    shard: Sequence[ClientTask],
    broadcast: Broadcast,
    client: ClientHalf,
    before_client: BeforeClient | None = None,
) -> RoundAccumulator:
    """Train a shard's clients one by one into one partial aggregate; a client that raises is
    reported and left out, never allowed to end the round. `before_client(position, task)`
    may return a report that stands for the client instead of running it (the process pool
    re-running a shard after its worker died)."""
    acc = RoundAccumulator.for_broadcast(broadcast)
    for position, task in enumerate(shard):
        if before_client is not None and (known := before_client(position, task)) is not None:
            acc.reports.append(known)
            continue
        try:
            result = guarded_update(worker, task, broadcast, client)  # watchdog + faults
        except Exception as err:  # any client failure is contained and reported
            log.debug("client %s failed:\n%s", task.client_id, traceback.format_exc())
            report = failed_client_report(task, err)
            report.stats.update(worker.take_data_report())
            acc.reports.append(report)
            continue
        result.stats.update(worker.take_data_report())  # e.g. pseudo-label counts
        client.fold(acc, result)
    return acc


def failed_report(task: ClientTask, error: str, failure: str = "error") -> ClientReport:
    return ClientReport(task.client_id, ok=False, error=error, depth=task.depth, failure=failure)


def failed_shard(
    shard: Sequence[ClientTask], reason: str, failure: str = "crash"
) -> RoundAccumulator:
    """The partial aggregate of a shard whose worker died or hung: every client failed."""
    return RoundAccumulator({}, reports=[failed_report(task, reason, failure) for task in shard])
