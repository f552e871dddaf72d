"""A pool of long-lived worker processes, each with its own WorkerContext.

The server's parameter sets (and any index sets) go to the workers once per round through
shared-memory tensors (workers read them in place; nothing is pickled but handles), with the
algorithm's client half. Each worker returns one partial
aggregate per shard; torch.multiprocessing moves its tensors through shared memory. A worker
tells the parent when each client starts; a client still running KILL_GRACE_S after its
`client.timeout_s` has its worker killed. A worker that dies (killed, crashed) takes only the
client it was running down with it: that client is reported failed, the worker is restarted
and the rest of its shard runs again there.
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
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import torch
import torch.multiprocessing as mp

from fedasr.algorithms.base import (
    Broadcast,
    ClientHalf,
    ClientReport,
    ClientTask,
    RoundAccumulator,
)
from fedasr.engine.faults import mark_disposable_process
from fedasr.engine.shards import BeforeClient, failed_report, run_shard
from fedasr.engine.worker import WorkerContext, WorkerSpec

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 300.0
KILL_GRACE_S = 2.0  # past client.timeout_s: the worker's own watchdog had its chance
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
    mark_disposable_process()  # a `kill` fault kills this process
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
        shard_index, shard, broadcast, client, known = message
        acc = run_shard(worker, shard, broadcast, client, _announcer(conn, known))
        conn.send(("done", (shard_index, acc)))


def _announcer(conn: Connection, known: dict[int, ClientReport]) -> BeforeClient:
    """Before each client: tell the parent it starts (the parent times it from here), or, for
    a client that failed on a worker that died, hand back that report instead of running it."""

    def before_client(position: int, task: ClientTask) -> ClientReport | None:
        if position in known:
            return known[position]
        conn.send(("start", position))
        return None

    return before_client


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
    position: int | None = None  # the shard's client the worker is running (None: none yet)
    client_started: float = 0.0


@dataclass
class _Round:
    shards: Sequence[Sequence[ClientTask]]
    pending: list[int]  # shard indices waiting for a worker
    results: dict[int, RoundAccumulator] = field(default_factory=dict)
    # per shard: positions whose outcome is known (they failed on a worker that died)
    known: dict[int, dict[int, ClientReport]] = field(default_factory=dict)


def _exit_status(slot: _Slot) -> str:
    slot.process.join(timeout=5)
    code = slot.process.exitcode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


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
        round_ = _Round(shards, list(range(len(shards))))
        while round_.pending or any(slot.shard is not None for slot in self._slots):
            for slot in self._slots:
                if slot.shard is None and round_.pending:
                    self._dispatch(slot, round_.pending.pop(0), round_, shared, client)
            busy = {slot.conn: slot for slot in self._slots if slot.shard is not None}
            for conn in wait(list(busy), timeout=self._wait_s()):
                self._receive(busy[conn], round_)  # type: ignore[index]
            self._kill_overdue(round_)
        return [round_.results[i] for i in range(len(shards))]

    def _dispatch(
        self, slot: _Slot, index: int, round_: _Round, broadcast: Broadcast, client: ClientHalf
    ) -> None:
        known = round_.known.setdefault(index, {})
        shard = list(round_.shards[index])
        message = (index, shard, broadcast, client, known)
        try:
            slot.conn.send(message)
        except (BrokenPipeError, EOFError, OSError):  # died while idle: replace it, send again
            log.warning("a worker process had died; restarting it")
            self._restart(slot)
            slot.conn.send(message)
        slot.shard, slot.started = index, time.perf_counter()
        slot.position, slot.client_started = None, slot.started

    def _receive(self, slot: _Slot, round_: _Round) -> None:
        try:
            kind, payload = slot.conn.recv()
        except (EOFError, OSError):
            self._lost(slot, round_, f"worker process died ({_exit_status(slot)})", "crash")
            return
        if kind == "start":
            slot.position, slot.client_started = payload, time.perf_counter()
            return
        shard_index, acc = payload
        round_.results[shard_index] = acc
        slot.shard = slot.position = None

    def _timeout(self) -> float | None:
        timeout = self.spec.config.get("client", {}).get("timeout_s")
        return float(timeout) if timeout else None

    def _wait_s(self) -> float:
        """Sleep until the next message or the next client deadline, at most a second."""
        timeout = self._timeout()
        deadlines = [
            slot.client_started + timeout + KILL_GRACE_S
            for slot in self._slots
            if timeout is not None and slot.shard is not None
        ]
        if not deadlines:
            return 1.0
        return min(1.0, max(0.01, min(deadlines) - time.perf_counter()))

    def _kill_overdue(self, round_: _Round) -> None:
        """A client past `client.timeout_s` that the worker's own watchdog could not stop (a
        hung native call) gets its worker killed, a grace period after its deadline."""
        timeout = self._timeout()
        if timeout is None:
            return
        for slot in self._slots:
            if slot.shard is None or slot.conn.poll():  # read its news before judging it
                continue
            limit = timeout + KILL_GRACE_S + (0.0 if slot.position is not None else 60.0)
            if time.perf_counter() - slot.client_started > limit:
                log.warning(
                    "shard %d: a client ran %.1f s past client.timeout_s=%s; killing its worker",
                    slot.shard, limit - timeout, timeout,
                )  # fmt: skip
                slot.process.kill()
                reason = f"past client.timeout_s={timeout}; its worker process was killed"
                self._lost(slot, round_, reason, "timeout")

    def _lost(self, slot: _Slot, round_: _Round, reason: str, kind: str) -> None:
        """The worker of a shard is gone: the client it was running fails with `reason`; the
        shard's other clients run again on a fresh worker (clients are independent of the
        worker that runs them, so the shard's aggregate is what it would have been)."""
        index, position = slot.shard, slot.position
        assert index is not None
        shard = round_.shards[index]
        known = round_.known.setdefault(index, {})
        log.warning("shard %d: %s", index, reason)
        self._restart(slot)
        slot.shard = slot.position = None
        if position is None:  # no client had started: give up on the whole shard
            round_.results[index] = self._failed(shard, reason, kind, known)
            return
        known[position] = failed_report(shard[position], reason, kind)
        round_.pending.insert(0, index)

    def _failed(
        self,
        shard: Sequence[ClientTask],
        reason: str,
        kind: str,
        known: dict[int, ClientReport],
    ) -> RoundAccumulator:
        reports = [
            known.get(i) or failed_report(task, reason, kind) for i, task in enumerate(shard)
        ]
        return RoundAccumulator({}, reports=reports)

    def _restart(self, slot: _Slot) -> None:
        slot.conn.close()
        slot.process.join(timeout=5)
        if slot.process.is_alive():
            slot.process.kill()
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
