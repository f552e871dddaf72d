"""A run directory is never lost or mixed up: `--resume DIR` means DIR, a refused override
leaves the run resumable, one writer at a time, a torn metrics line or an unreadable checkpoint
is recovered from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fedasr.cli.app import app
from fedasr.engine.rundir import read_metrics
from fedasr.engine.runlock import RunInUseError, RunLock
from fedasr.experiment import build_run, run_federated


def write_config(config, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(config.to_yaml())
    return path


def final_params(run_dir: Path) -> torch.Tensor:
    from fedasr.engine.checkpoint import load_latest_checkpoint

    found = load_latest_checkpoint(run_dir / "checkpoints", set_aside=False)
    assert found is not None
    return found.tensors["params"]


def test_resume_continues_a_moved_run_where_it_now_is(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path, monkeypatch
) -> None:
    straight = tiny_config(f"run_dir={tmp_path / 'straight'}", "rounds.total=3")
    run_federated(straight, progress=False)
    (tmp_path / "first").mkdir()
    (tmp_path / "elsewhere").mkdir()
    config = write_config(tiny_config("run_dir=runs/a"), tmp_path / "run.yaml")
    monkeypatch.chdir(tmp_path / "first")
    assert CliRunner().invoke(app, ["run", str(config), "-q"]).exit_code == 0
    (tmp_path / "first" / "runs" / "a").rename(tmp_path / "first" / "runs" / "b")

    monkeypatch.chdir(tmp_path / "elsewhere")  # and resumed from another directory
    moved = tmp_path / "first" / "runs" / "b"
    result = CliRunner().invoke(app, ["run", "--resume", str(moved), "rounds.total=3", "-q"])
    assert result.exit_code == 0, result.output
    assert [m["round"] for m in read_metrics(moved)] == [1, 2, 3]
    assert not (tmp_path / "elsewhere" / "runs").exists()
    assert not (tmp_path / "first" / "runs" / "a").exists()
    assert torch.equal(final_params(moved), final_params(tmp_path / "straight"))
    moving = CliRunner().invoke(app, ["run", "--resume", str(moved), "run_dir=x", "-q"])
    assert moving.exit_code == 2 and "would move the run" in moving.output


def test_an_override_the_checkpoint_cannot_take_is_refused_before_writing(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    run_dir = tmp_path / "run"
    run_federated(tiny_config(), progress=False)
    stored = (run_dir / "config.yaml").read_bytes()
    for override, key in [
        ("model.overrides.d_model=64", "model.overrides"),
        ("server.optimizer=adam", "server.optimizer"),
        ("data.tokenizer.kind=bpe", "data.tokenizer"),
    ]:
        result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), override, "-q"])
        assert result.exit_code == 2 and key in result.output, result.output
        assert (run_dir / "config.yaml").read_bytes() == stored  # not rewritten
    result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "rounds.total=3", "-q"])
    assert result.exit_code == 0, result.output  # still resumable
    assert [m["round"] for m in read_metrics(run_dir)] == [1, 2, 3]


def test_a_live_run_directory_is_locked(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config()
    live = build_run(config, progress=False)
    with pytest.raises(RunInUseError, match=r"in use by another fedasr run .*pid"):
        build_run(config, progress=False)  # started twice
    live.execute()  # ends, and releases the lock
    metrics = (config.resolved_run_dir() / "metrics.jsonl").read_bytes()
    resumed = build_run(config, resume=True, progress=False)
    with pytest.raises(RunInUseError):
        build_run(config, resume=True, progress=False)  # resuming a live run
    resumed.run.close()
    assert (config.resolved_run_dir() / "metrics.jsonl").read_bytes() == metrics


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = (
        "import sys, time\n"
        "from fedasr.engine.runlock import RunLock\n"
        "lock = RunLock.acquire(sys.argv[1])\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            RunLock.acquire(tmp_path)
    finally:
        holder.kill()  # kill -9: the kernel drops the lock, nothing stale is left
        holder.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            RunLock.acquire(tmp_path).release()
            break
        except RunInUseError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_torn_metrics_line_is_dropped_on_resume(tiny_config, caplog) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config()
    run_federated(config, progress=False)
    metrics = config.resolved_run_dir() / "metrics.jsonl"
    with metrics.open("a") as handle:
        handle.write('{"round": 3, "lr": 0.00')  # the crash came mid-line
    assert [m["round"] for m in read_metrics(metrics)] == [1, 2]  # readers skip it too
    run_federated(tiny_config("rounds.total=3"), resume=True, progress=False)
    assert "dropped a torn last line" in caplog.text
    assert [m["round"] for m in read_metrics(metrics)] == [1, 2, 3]


def test_an_unreadable_latest_checkpoint_falls_back_to_the_previous(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path, caplog
) -> None:
    straight = tiny_config(f"run_dir={tmp_path / 'straight'}")
    run_federated(straight, progress=False)
    config = tiny_config()
    run_federated(config, progress=False)
    checkpoints = config.resolved_run_dir() / "checkpoints"
    (checkpoints / "round-000002" / "tensors.safetensors").write_bytes(b"")  # empty
    run = build_run(config, resume=True, progress=False)
    assert run.state.round == 1
    assert "round-000002 is unreadable" in caplog.text
    assert (checkpoints / "unreadable-round-000002").is_dir()  # kept for a post-mortem
    run.execute()
    assert torch.equal(run.server.main, final_params(tmp_path / "straight"))
    assert [m["round"] for m in read_metrics(config.resolved_run_dir())] == [1, 2]


def test_every_file_a_run_writes_is_fsynced_before_it_replaces_the_old(  # type: ignore[no-untyped-def]
    tiny_config, monkeypatch
) -> None:
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    config = tiny_config("rounds.total=1")
    run_federated(config, progress=False)
    run = str(config.resolved_run_dir())
    names = [path.removeprefix(run + "/") for path in synced if path.startswith(run)]
    expected = [
        r"\.config\.yaml\..*\.tmp",  # then renamed to config.yaml
        r"\.tokenizer-.*/tokenizer\.json",
        r"metrics\.jsonl",  # the appended line
        r"checkpoints/\.tmp-round-000001/tensors\.safetensors",
        r"checkpoints/\.tmp-round-000001/state\.json",
        r"checkpoints",  # the rename into place
        r"\.best\.safetensors\..*\.tmp",
        r"\.model\.safetensors\..*\.tmp",
    ]
    for pattern in expected:
        assert any(re.fullmatch(pattern, name) for name in names), (pattern, names)


def test_resume_purges_tensorboard_events_past_the_checkpoint(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    """Rounds logged after the last checkpoint are trained again on resume; TensorBoard must
    show each round once, with the value of the resumed run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from fedasr.engine.rundir import RunDir

    config = tiny_config(f"run_dir={tmp_path / 'run'}", "logging.tensorboard=true")
    first = RunDir(tmp_path / "run", config)
    for round_ in (1, 2, 3):
        first.log({"round": round_, "loss": 10.0 * round_}, step=round_)
    first.close()
    again = RunDir(tmp_path / "run", config, resume=True)
    again.truncate_after(1)  # the checkpoint holds round 1
    for round_ in (2, 3):
        again.log({"round": round_, "loss": -1.0 * round_}, step=round_)
    again.close()
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(1, 10.0), (2, -2.0), (3, -3.0)]
    assert [r["round"] for r in read_metrics(tmp_path / "run")] == [1, 2, 3]
