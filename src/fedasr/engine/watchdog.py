"""Stop a client that runs past `client.timeout_s` wherever it is, not only between steps.

`client_deadline(seconds)` arms a one-shot interval timer (setitimer(ITIMER_REAL)); when it
fires, its SIGALRM handler raises ClientTimedOut in the thread that runs the client, which
the executor records as a timeout before going on with the next client.

What it can interrupt: any Python code (a loop, a data transform, the optimizer's Python
half) and any blocking call that Python retries on EINTR (sleep, reading a pipe or a file) —
the exception is raised as soon as the call returns to the interpreter. What it cannot: a
single native call that never returns (a deadlocked kernel, a stuck collective) — Python runs
signal handlers only between bytecodes. The process executor covers that case: its parent
watches each client's deadline and kills the worker process (engine/process_pool.py).

Signals reach only the main thread, so the watchdog is armed only there (the serial executor
called from the main thread, every process-pool worker). Elsewhere — a run started from a
worker thread — it stands aside and the timeout is checked between steps only.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from fedasr.engine.outcomes import ClientTimedOut


def can_interrupt() -> bool:
    """True where a timer signal can interrupt this thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def client_deadline(seconds: float | None, client_id: str) -> Iterator[None]:
    """Raise ClientTimedOut inside the block once it has run `seconds` (None: no limit)."""
    if not seconds or not can_interrupt():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise ClientTimedOut(
            f"client {client_id}: stopped by the watchdog after client.timeout_s={seconds}"
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        # disarm first: a signal between here and the restore would call on_alarm again
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
