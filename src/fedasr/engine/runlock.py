"""One writer per run directory: RUN/run.lock, held with flock(2) while a run writes there.

The kernel releases the lock when its holder exits — cleanly, by an exception or by kill -9 —
so a lock is never stale and never needs deleting. The file also records who holds it (pid,
host, start time, command) so the refusal can say so. A second `fedasr run` (or `--resume`)
of the same directory — from this process or any other — is refused before it writes anything.
On NFS, flock is emulated with POSIX byte-range locks (Linux >= 2.6.12), so it holds across
nodes where the server supports locking.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import BinaryIO

from fedasr.errors import FedasrError

LOCK_NAME = "run.lock"


class RunInUseError(FedasrError):
    """Another fedasr process holds the run directory's lock."""


class RunLock:
    """A held lock. Released by `release()`, or when this object is garbage collected (its
    file closes) or the process ends."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self._handle: BinaryIO | None = handle

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        """Lock `run_dir` (which must exist) or raise RunInUseError naming the holder."""
        path = Path(run_dir) / LOCK_NAME
        handle = path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle.fileno())
            handle.close()
            raise RunInUseError(
                f"run_dir: {run_dir} is in use by another fedasr run ({holder}); wait for it "
                "to finish or stop it, or choose another run_dir"
            ) from None
        _write_holder(handle.fileno())
        return cls(path, handle)

    @property
    def held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv)[:500],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
