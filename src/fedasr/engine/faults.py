"""Injected client faults (the `faults:` section), for rehearsing failures on purpose.

Which client gets which fault is a pure function of (seed, round, client index): the same
config injects the same faults on every executor and after a resume, so a rehearsal is
repeatable and its outcome can be checked. A fault is applied around one client's update:

    error        raise before training
    nonfinite    train, then return a NaN update (the aggregate must reject it)
    hang         block in Python until the watchdog stops it at client.timeout_s
    hang_native  block with SIGALRM masked, like a stuck native call: only killing the worker
                 process recovers (process and Ray executors)
    kill         SIGKILL the worker process; on the serial executor, which has no worker
                 process, the loss of the client is simulated (recorded as a crash)
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import numpy as np
import torch

from fedasr.algorithms.base import ClientResult
from fedasr.engine.fault_schema import FAULT_KINDS, FaultsSection
from fedasr.engine.outcomes import ClientTimedOut, NonFiniteUpdate, WorkerCrashed
from fedasr.errors import FedasrError

_DISPOSABLE = {"process": False}  # set in worker processes and actors: a kill really kills


class InjectedError(FedasrError):
    """The `error` fault."""


def mark_disposable_process() -> None:
    """Say that this process only runs clients (a process-pool worker, a Ray actor): a `kill`
    fault then SIGKILLs it, and its executor must recover."""
    _DISPOSABLE["process"] = True


def fault_for(
    faults: FaultsSection, seed: int, round_index: int, client_index: int, client_id: str
) -> str | None:
    """The fault client `client_index` suffers in round `round_index` (0-based), or None.

    Client lists win first (in FAULT_KINDS order); otherwise one uniform draw per (seed,
    round, client) falls into the kinds' rates laid end to end over [0, 1), so kinds never
    overlap and a kind's share does not depend on which other kinds are on in a round."""
    choices = faults.choices()
    if not choices:
        return None
    number = round_index + 1

    def active(kind: str) -> bool:
        rounds = choices[kind].rounds
        return rounds is None or number in rounds

    for kind, choice in choices.items():
        if choice.clients is not None and client_id in choice.clients and active(kind):
            return kind
    base = seed if faults.seed is None else faults.seed
    draw = np.random.default_rng([base, round_index, client_index, 0xFA17]).random()
    low = 0.0
    for kind in FAULT_KINDS:
        rate = choices[kind].rate if kind in choices else None
        if rate is None:
            continue
        if low <= draw < low + rate:
            return kind if active(kind) else None
        low += rate
    return None


def run_with_fault(
    kind: str | None, update: Callable[[], ClientResult], timeout_s: float | None
) -> ClientResult:
    """Run one client's `update` with fault `kind` applied (None: just run it)."""
    if kind is None:
        return update()
    if kind == "error":
        raise InjectedError("injected fault: error (faults.error)")
    if kind == "nonfinite":
        return _poisoned(update())
    if kind in ("hang", "hang_native"):
        _hang(timeout_s, native=kind == "hang_native")
    if kind == "kill":
        _kill()
    raise ValueError(f"unknown fault kind {kind!r}")


def _poisoned(result: ClientResult) -> ClientResult:
    if result.delta is None:
        raise NonFiniteUpdate("injected fault: nonfinite (faults.nonfinite)")
    result.delta = torch.full_like(result.delta, float("nan"))
    return result


def _hang(timeout_s: float | None, *, native: bool) -> None:
    """Block until something stops us; give up (as a timeout) long after the deadline so a
    rehearsal can never hang a run for good."""
    limit = max(3 * timeout_s, timeout_s + 30) if timeout_s else 60.0
    mask = {signal.SIGALRM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask) if native else None
    try:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            time.sleep(0.05)
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    raise ClientTimedOut(f"injected fault: hung {limit:.0f} s and nothing stopped it")


def _kill() -> None:
    if _DISPOSABLE["process"]:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # SIGKILL is not delivered synchronously everywhere
    raise WorkerCrashed(
        "injected fault: kill (simulated: the serial executor runs clients in the main "
        "process; kill the run itself to rehearse its crash)"
    )
