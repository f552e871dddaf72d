"""A pool of long-lived worker processes, each with its own WorkerContext.

The server's parameter sets (and any index sets) go to the workers once per round through
shared-memory tensors (workers read them in place; nothing is pickled but handles). Each worker
returns one partial aggregate per shard; torch.multiprocessing moves its tensors through shared
memory. A worker that dies takes only its shard's clients down with it: they are reported failed
and the worker is restarted for the next shard.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import torch
import torch.multiprocessing as mp

from fedasr.algorithms.base import Broadcast, ClientHalf, ClientTask, RoundAccumulator
from fedasr.engine.shards import failed_shard, run_shard
from fedasr.engine.worker import WorkerContext, WorkerSpec

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 300.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A worker must not outlive the run that started it (e.g. after a kill -9 of the run):
    ask Linux to SIGKILL us when the parent dies; elsewhere, a thread watches the parent."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0:
            if os.getppid() == 1:  # the parent died before we asked
                os._exit(1)
            return
    except OSError:
        pass
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker_main(spec: WorkerSpec, conn: Connection) -> None:
    _die_with_parent()
    try:
        worker = WorkerContext(spec)
        conn.send(("ready", None))
    except Exception as err:  # report, so the parent fails with the real reason
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    while True:
        message = conn.recv()
        if message is None:
            return
        shard_index, shard, broadcast, client = message
        conn.send(("done", (shard_index, run_shard(worker, shard, broadcast, client))))


def _context() -> Any:
    """forkserver: workers fork from a clean single-threaded server that has already imported
    torch and the worker code (a fork of this process could inherit running OpenMP threads;
    spawn would re-import torch in every worker, seconds each). torch._dynamo too: building
    the first optimizer imports it, 2.5 s of every worker's start here otherwise."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(
        ["torch", "torch._dynamo", "fedasr.engine.worker", "fedasr.engine.process_pool"]
    )
    return context


@dataclass
class _Slot:
    process: Any
    conn: Connection
    shard: int | None = None
    started: float = 0.0


class ProcessExecutor:
    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        self.spec = spec
        self.size = max(1, workers)
        self._context = _context()
        self._shared: dict[str, torch.Tensor] = {}
        self._slots = [self._start() for _ in range(self.size)]
        for slot in self._slots:
            self._await_ready(slot)

    def _start(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(self.spec, child), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def _await_ready(self, slot: _Slot) -> None:
        if not slot.conn.poll(STARTUP_TIMEOUT_S):
            raise RuntimeError("a worker process did not start in time")
        kind, payload = slot.conn.recv()
        if kind != "ready":
            raise RuntimeError(f"a worker process failed to start: {payload}")

    def _share(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """A shared-memory copy of `tensor`, reusing last round's buffer of the same shape."""
        buffer = self._shared.get(name)
        if buffer is None or buffer.shape != tensor.shape or buffer.dtype != tensor.dtype:
            buffer = self._shared[name] = torch.empty_like(tensor).share_memory_()
        buffer.copy_(tensor)
        return buffer

    def _shared_broadcast(self, broadcast: Broadcast) -> Broadcast:
        params = {k: self._share(f"params.{k}", v) for k, v in broadcast.params.items()}
        coords = {k: self._share(f"coords.{k}", v) for k, v in broadcast.coords.items()}
        return Broadcast(broadcast.round, params, broadcast.lr, coords, dict(broadcast.extras))

    def run(
        self, shards: Sequence[Sequence[ClientTask]], broadcast: Broadcast, client: ClientHalf
    ) -> list[RoundAccumulator]:
        shared = self._shared_broadcast(broadcast)
        pending = list(enumerate(shards))
        results: dict[int, RoundAccumulator] = {}
        while pending or any(slot.shard is not None for slot in self._slots):
            for slot in self._slots:
                if slot.shard is None and pending:
                    index, shard = pending.pop(0)
                    self._dispatch(slot, (index, list(shard), shared, client))
            busy = {slot.conn: slot for slot in self._slots if slot.shard is not None}
            for conn in wait(list(busy), timeout=1.0):  # wake up to check the watchdog
                self._collect(busy[conn], shards, results)  # type: ignore[index]
            self._kill_overdue(shards, results)
        return [results[i] for i in range(len(shards))]

    def _dispatch(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        try:
            slot.conn.send(message)
        except (BrokenPipeError, EOFError, OSError):  # died while idle: replace it, send again
            log.warning("a worker process had died; restarting it")
            self._restart(slot)
            slot.conn.send(message)
        slot.shard, slot.started = message[0], time.perf_counter()

    def _collect(
        self,
        slot: _Slot,
        shards: Sequence[Sequence[ClientTask]],
        results: dict[int, RoundAccumulator],
    ) -> None:
        index = slot.shard
        assert index is not None
        try:
            _, (shard_index, acc) = slot.conn.recv()
            results[shard_index] = acc
        except (EOFError, OSError):
            log.warning("worker process died during shard %d; its clients are left out", index)
            results[index] = failed_shard(shards[index], "worker process died")
            self._restart(slot)
        slot.shard = None

    def _kill_overdue(
        self, shards: Sequence[Sequence[ClientTask]], results: dict[int, RoundAccumulator]
    ) -> None:
        """A worker stuck past every client's timeout (a hung library call) is killed."""
        timeout = self.spec.config.get("client", {}).get("timeout_s")
        if not timeout:
            return
        for slot in self._slots:
            if slot.shard is None:
                continue
            limit = timeout * len(shards[slot.shard]) + 60.0
            if time.perf_counter() - slot.started > limit:
                log.warning("shard %d exceeded %.0f s; killing its worker", slot.shard, limit)
                results[slot.shard] = failed_shard(
                    shards[slot.shard], "worker killed after timeout"
                )
                slot.process.kill()
                self._restart(slot)
                slot.shard = None

    def _restart(self, slot: _Slot) -> None:
        slot.conn.close()
        slot.process.join(timeout=5)
        fresh = self._start()
        self._await_ready(fresh)
        slot.process, slot.conn = fresh.process, fresh.conn

    def close(self) -> None:
        for slot in self._slots:
            with contextlib.suppress(BrokenPipeError, OSError):
                slot.conn.send(None)
        for slot in self._slots:
            slot.process.join(timeout=10)
            if slot.process.is_alive():
                slot.process.kill()
        self._slots = []
