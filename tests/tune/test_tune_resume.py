"""A 3-trial study is SIGKILLed while its third trial trains, and the same command resumes it:
trials 1-2 are kept as they were, the third is retried with its parameters and its run goes on
from its checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tune_helpers import load, states, write_config, write_space
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.engine.rundir import read_metrics

SPACE = "params:\n  client.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"


def _wait_for_third_trial_mid_run(study_dir: Path, process: subprocess.Popen[bytes]) -> None:
    """Until trials 0 and 1 are complete and trial 2 has logged 2 of its 4 rounds."""
    metrics = study_dir / "trials" / "trial-0002" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-3000:]
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            return
        time.sleep(0.02)
    raise AssertionError("trial 2 never started")


def test_killed_study_resumes_without_redoing_finished_trials(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = write_config(tiny_config("rounds.total=4", "eval.every=2"), tmp_path / "base.yaml")
    space = write_space(tmp_path / "space.yaml", SPACE)
    study_dir = tmp_path / "study"
    args = ["tune", str(base), "--space", str(space), "--study-dir", str(study_dir),
            "--n-trials", "3", "--budget", "1e9", "--pruner", "none", "-q"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "fedasr", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_third_trial_mid_run(study_dir, process)
        os.kill(process.pid, signal.SIGKILL)  # no handler runs: the trial stays RUNNING
    finally:
        process.wait(timeout=60)
    killed = load(study_dir)
    assert states(killed) == ["COMPLETE", "COMPLETE", "RUNNING"]
    interrupted = study_dir / "trials" / "trial-0002" / "metrics.jsonl"
    lines_before = interrupted.read_text().splitlines()
    assert 2 <= len(lines_before) < 4  # killed mid-run
    finished = {
        name: ((study_dir / "trials" / name / "metrics.jsonl").read_bytes(),
               (study_dir / "trials" / name / "model.safetensors").stat().st_mtime_ns)
        for name in ("trial-0000", "trial-0001")
    }  # fmt: skip

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    study = load(study_dir)
    trials = study.get_trials()
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert [t.params for t in trials[:2]] == [t.params for t in killed.get_trials()[:2]]
    retry = trials[3]
    assert retry.user_attrs["retry_of"] == 2 and retry.params == trials[2].params
    assert retry.user_attrs["run_dir"] == str(study_dir / "trials" / "trial-0002")
    assert sorted(p.name for p in (study_dir / "trials").iterdir()) == [
        "trial-0000", "trial-0001", "trial-0002",
    ]  # fmt: skip
    for name, (metrics, exported) in finished.items():  # not redone: not even touched
        assert (study_dir / "trials" / name / "metrics.jsonl").read_bytes() == metrics
        assert (study_dir / "trials" / name / "model.safetensors").stat().st_mtime_ns == exported
    assert [m["round"] for m in read_metrics(interrupted.parent)] == [1, 2, 3, 4]
    # resumed from its checkpoint, not restarted: round 1 (checkpointed) was not run again
    assert interrupted.read_text().splitlines()[0] == lines_before[0]
    assert retry.user_attrs["cost"]["rounds"] == 4
    assert retry.user_attrs["cost"]["examples"] > 0
    assert (study_dir / "best.yaml").is_file()
    assert list((study_dir / "plots").glob("history_*.png"))
