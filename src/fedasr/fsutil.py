"""Crash-safe writes: whatever instant a process dies, a reader finds the old file or the new
one, never a mix or a stub.

A file is written to a temporary sibling, fsync'd, renamed over the target (rename is atomic on
POSIX), and its directory fsync'd so the rename itself survives a power cut. Appends are
fsync'd line by line; a reader drops a torn last line (see engine/rundir.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fedasr.errors import OverwriteError


def fsync_dir(directory: str | Path) -> None:
    """Make renames and new entries in `directory` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; once the block has written it, it is fsync'd
    and renamed over `path`. On an error the temporary file is removed and `path` untouched.
    For writers that want a file name (safetensors, numpy)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def refuse_to_overwrite(path: str | Path, overwrite: bool, flag: str = "--overwrite") -> None:
    """Stop before writing over a file this command did not just create: the file may be the
    user's own work. `flag` is the option that allows it."""
    if not overwrite and Path(path).exists():
        raise OverwriteError(f"{path} exists; nothing was written (pass {flag} to replace it)")


def fsync_tree(directory: str | Path) -> None:
    """fsync every file under `directory`, then the directories themselves (deepest first)."""
    root = Path(directory)
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_dir(folder)


def append_line(path: str | Path, line: str) -> None:
    """Append one line and fsync it: a crash loses at most this line, possibly leaving it torn
    (readers drop a torn last line)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line if line.endswith("\n") else line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
