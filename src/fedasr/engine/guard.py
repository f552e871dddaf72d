"""One client's update as every executor runs it: under the watchdog, with its injected fault.

`guarded_update` is what a shard calls instead of the client half's `update`; a client that
raises is turned into a failed report by `failed_client_report`, with its outcome kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedasr.algorithms.base import Broadcast, ClientHalf, ClientReport, ClientResult, ClientTask
from fedasr.engine.faults import fault_for, run_with_fault
from fedasr.engine.outcomes import failure_kind
from fedasr.engine.watchdog import client_deadline

if TYPE_CHECKING:
    from fedasr.engine.worker import WorkerContext


def guarded_update(
    worker: WorkerContext, task: ClientTask, broadcast: Broadcast, client: ClientHalf
) -> ClientResult:
    """`client.update`, stopped at `client.timeout_s` wherever it is (engine/watchdog.py) and
    with the fault the `faults:` section assigns this (round, client), if any."""
    config = worker.config
    fault = fault_for(config.faults, config.seed, task.round, task.index, task.client_id)
    timeout = config.client.timeout_s
    with client_deadline(timeout, task.client_id):
        return run_with_fault(fault, lambda: client.update(worker, task, broadcast), timeout)


def failed_client_report(task: ClientTask, err: BaseException) -> ClientReport:
    return ClientReport(
        task.client_id,
        ok=False,
        error=f"{type(err).__name__}: {err}",
        depth=task.depth,
        failure=failure_kind(err),
    )
