"""Checkpoints: tensors in safetensors, everything else (round, RNG, schedules) in JSON.

    checkpoints/round-000012/tensors.safetensors   global params + server optimizer state
    checkpoints/round-000012/state.json            round, best metric, schedule state, ...
A checkpoint is written to a temp directory and renamed into place, so the latest complete
checkpoint is always readable: an interrupted run loses at most the round in flight.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

PREFIX = "round-"


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
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
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


def _prune(directory: Path, keep: int) -> None:
    for old in list_checkpoints(directory)[:-keep]:
        if old.name != "best":
            shutil.rmtree(old, ignore_errors=True)
