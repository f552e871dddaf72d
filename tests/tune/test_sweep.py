"""`fedasr sweep`: a grid's runs are named by their values; finished runs are skipped, an
interrupted one resumes, and a directory holding another experiment is never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from tune_helpers import write_config
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.config import load_config
from fedasr.engine.executors import make_executor
from fedasr.engine.rundir import read_metrics
from fedasr.errors import ConfigError
from fedasr.experiment import build_run, run_federated
from fedasr.tune.grid import load_grid
from fedasr.tune.runs import run_state


def grid(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text("grid:\n" + body)
    return path


def test_grid_runs_are_every_combination_named_by_their_values(tmp_path: Path) -> None:
    runs = load_grid(grid(tmp_path, """\
  partition.params.p: [0.0, 0.5]
  local:
    - {client.local_epochs: 1, rounds.total: 8}
    - {client.local_epochs: 2, rounds.total: 4}
  seed: [0, 1]
"""))  # fmt: skip
    assert [run.name for run in runs][:3] == [
        "p=0.0_local_epochs=1_seed=0", "p=0.0_local_epochs=1_seed=1", "p=0.0_local_epochs=2_seed=0",
    ]  # fmt: skip
    assert len(runs) == 8
    assert runs[-1].values == {
        "partition.params.p": 0.5, "client.local_epochs": 2, "rounds.total": 4, "seed": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  seed: 3\n", "grid.seed: expected a non-empty list"),
        ("  seed: [0, {a: 1}]\n", "values must all be scalars"),
        ("  seed: [0, 0]\n", "repeats a value"),
        (
            "  b:\n    - {client.local_epochs: 1, seed: 0}\n"
            "    - {client.local_epochs: 1, seed: 1}\n",
            "runs named alike (local_epochs=1)",
        ),
    ],
)
def test_bad_grids_name_the_axis(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_grid(grid(tmp_path, body))
    assert message in str(info.value) and "grid.yaml" in str(info.value)


def test_a_sweep_skips_finished_runs_and_resumes_an_interrupted_one(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = write_config(tiny_config("rounds.total=2"), tmp_path / "base.yaml")
    spec = grid(tmp_path, "  seed: [0, 1]\n")
    out = tmp_path / "sweep"
    # seed 1 was interrupted after its first round (checkpointed, no final model)
    interrupted = load_config(base, [f"run_dir={out / 'seed=1'}", "seed=1", "name=seed=1"])
    killed = build_run(interrupted, progress=False)
    killed.executor = make_executor("serial", killed.parts.worker, 1)
    killed.run_round(0)
    del killed
    args = ["sweep", str(base), "--grid", str(spec), "--out", str(out), "-q"]
    listed = CliRunner().invoke(app, [*args, "--dry-run"])
    assert "new  seed=0" in listed.output and "partial  seed=1" in listed.output
    assert not (out / "seed=0").exists()  # a dry run writes nothing

    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "seed=0: 2 rounds" in first.output and "seed=1: resumed, 2 rounds" in first.output
    for seed in (0, 1):
        assert [m["round"] for m in read_metrics(out / f"seed={seed}")] == [1, 2]
    exported = (out / "seed=0" / "model.safetensors").stat().st_mtime_ns

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and again.output.count("skipped (finished)") == 2
    assert (out / "seed=0" / "model.safetensors").stat().st_mtime_ns == exported
    assert (out / "sweep.jsonl").read_text().count("\n") == 2
    one = CliRunner().invoke(app, [*args, "--only", "seed=1"])
    assert one.output.count("skipped (finished)") == 1 and "seed=1: skipped" in one.output
    assert (out / "sweep.jsonl").read_text().count("\n") == 2  # the index keeps the whole grid


def test_a_directory_holding_another_experiment_is_refused(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = write_config(tiny_config("rounds.total=1"), tmp_path / "base.yaml")
    out = tmp_path / "sweep"
    other = load_config(base, [f"run_dir={out / 'seed=0'}", "name=seed=0", "client.lr=0.5"])
    run_federated(other, progress=False)
    before = (out / "seed=0" / "metrics.jsonl").read_bytes()
    args = ["sweep", str(base), "--grid", str(grid(tmp_path, "  seed: [0]\n")), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "-q"])
    assert result.exit_code == 2
    assert "holds a run of another config (client.lr: 0.5 there, 0.003 now)" in result.output
    assert (out / "seed=0" / "metrics.jsonl").read_bytes() == before


def test_a_run_its_caller_stopped_is_partial_and_its_own_stop_is_finished(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    config = tiny_config("rounds.total=3")
    assert run_state(config.resolved_run_dir(), config) == "new"
    run_federated(config, progress=False, on_round=lambda record: True)  # stopped after round 1
    assert run_state(config.resolved_run_dir(), config) == "partial"
    run_federated(config, resume=True, progress=False)
    assert run_state(config.resolved_run_dir(), config) == "finished"
    # its own time budget stops it after round 1: that is where it ends
    budget = tiny_config(
        "rounds.total=3", "rounds.time_budget_min=1e-6", f"run_dir={tmp_path / 'b'}"
    )
    assert run_federated(budget, progress=False).rounds == 1
    assert run_state(budget.resolved_run_dir(), budget) == "finished"
