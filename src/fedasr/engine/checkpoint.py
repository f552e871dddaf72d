"""Checkpoints: tensors in safetensors, everything else (round, RNG, schedules) in JSON.

    checkpoints/round-000012/tensors.safetensors   global params + server optimizer state
    checkpoints/round-000012/state.json            round, best metric, schedule state, ...
A checkpoint is written to a temp directory, fsync'd and renamed into place, so a crash at any
instant leaves the previous checkpoints as they were: an interrupted run loses at most the
round in flight. If the newest checkpoint cannot be read anyway (a disk that lied, a copy cut
short), `load_latest_checkpoint` says so, sets it aside and falls back to the one before.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from fedasr.fsutil import fsync_dir, fsync_tree

log = logging.getLogger(__name__)
PREFIX = "round-"
UNREADABLE = "unreadable-"  # prefix of a checkpoint set aside by load_latest_checkpoint


def save_checkpoint(
    directory: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{PREFIX}{step:06d}"
    tmp = directory / f".tmp-{PREFIX}{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in tensors.items()},
        str(tmp / "tensors.safetensors"),
    )
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    fsync_tree(tmp)  # the data is on disk before the rename makes it the latest
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    fsync_dir(directory)
    _prune(directory, keep)
    return final


def list_checkpoints(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{PREFIX}*") if (p / "state.json").is_file())


def latest_checkpoint(directory: Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    return load_file(str(path / "tensors.safetensors")), json.loads(
        (path / "state.json").read_text()
    )


@dataclass
class LoadedCheckpoint:
    path: Path
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]


def load_latest_checkpoint(directory: Path, set_aside: bool = True) -> LoadedCheckpoint | None:
    """The newest checkpoint that reads back whole, or None. An unreadable one (empty or
    truncated tensors, broken JSON) is renamed `unreadable-round-N` — kept for a post-mortem,
    never picked again — with a warning, and the one before it is tried. `set_aside=False`
    only skips it (for checks that must not write)."""
    for path in reversed(list_checkpoints(directory)):
        try:
            tensors, state = load_checkpoint(path)
            if not _has_params(tensors) or "loop" not in state:
                raise ValueError("no params tensor or loop state")
        except Exception as err:  # safetensors, JSON and OS errors alike: try the previous
            if set_aside:
                aside = _unused(path.with_name(UNREADABLE + path.name))
                path.rename(aside)
                log.warning(
                    "checkpoint %s is unreadable (%s: %s); set aside as %s, resuming from the "
                    "one before", path, type(err).__name__, err, aside.name,
                )  # fmt: skip
            continue
        return LoadedCheckpoint(path, tensors, state)
    return None


def _has_params(tensors: dict[str, torch.Tensor]) -> bool:
    """The one parameter set (`params`) or several named ones (`params.S`, ...: model tiers)."""
    return any(key == "params" or key.startswith("params.") for key in tensors)


def _unused(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        candidate, number = path.with_name(f"{path.name}.{number}"), number + 1
    return candidate


def _prune(directory: Path, keep: int) -> None:
    for old in list_checkpoints(directory)[:-keep]:
        if old.name != "best":
            shutil.rmtree(old, ignore_errors=True)
