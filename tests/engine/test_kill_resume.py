"""kill -9 at any instant, then `--resume`: the run ends bit-identical to one never killed.

The killed run is a child process (tests/engine/kill_driver.py) that SIGKILLs itself in round
2 of 3 — while clients train, halfway through writing a checkpoint, a metrics line or the
best model — on the serial and the process executor.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fedasr.config import load_config
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import run_federated
from fedasr.models.io import load_model_file

DRIVER = Path(__file__).parent / "kill_driver.py"
THREE_ROUNDS = (
    "rounds.total=3",
    "executor.workers=2",
    "logging.keep_checkpoints=1",
    "eval.every=2",
)


_REFERENCE: dict[str, Path] = {}  # one uninterrupted run serves every case


def straight_run(tiny_config, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    if "run" not in _REFERENCE:
        config = tiny_config(f"run_dir={tmp_path / 'straight'}", *THREE_ROUNDS)
        run_federated(config, progress=False)
        _REFERENCE["run"] = config.resolved_run_dir()
    return _REFERENCE["run"]


CASES = [
    ("serial", "mid-round"),
    ("serial", "mid-checkpoint"),
    ("serial", "mid-metrics"),
    ("serial", "mid-export"),
    ("process", "mid-round"),
    ("process", "mid-checkpoint"),
    ("process", "mid-metrics"),
]


@pytest.mark.parametrize(("executor", "instant"), CASES)
def test_kill_at_any_instant_then_resume_is_bit_identical(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path, executor, instant
) -> None:
    reference = straight_run(tiny_config, tmp_path)
    config = tiny_config(
        f"run_dir={tmp_path / 'killed'}", f"executor.kind={executor}", *THREE_ROUNDS
    )
    run_dir = config.resolved_run_dir()
    path = tmp_path / "killed.yaml"
    path.write_text(config.to_yaml())
    kill_round = "3" if instant == "mid-export" else "2"
    child = subprocess.run(
        [sys.executable, str(DRIVER), str(path), instant, kill_round],
        capture_output=True,
        text=True,
    )
    assert child.returncode == -9, child.stderr[-3000:]

    run_federated(load_config(run_dir / "config.yaml"), resume=True, progress=False)
    assert [m["round"] for m in read_metrics(run_dir)] == [1, 2, 3]
    for name in ("model.safetensors", "best.safetensors"):
        resumed, _ = load_model_file(run_dir / name)
        straight, _ = load_model_file(reference / name)
        assert resumed.keys() == straight.keys()
        assert all(torch.equal(resumed[k], straight[k]) for k in straight), name
