"""`fedasr reproduce`: the catalog of experiments behind docs/ loads, names real configs and
scripts, and a finished run is reused, never silently retrained or overwritten."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.errors import ConfigError
from fedasr.reproduce import load_catalog, repository_root, reproduce
from fedasr.reproduce.runs import RunSpec, ensure_run, run_state

ROOT = Path(__file__).resolve().parents[2]
DOCS = (
    "docs/benchmarks.md",
    "docs/results/dga.md",
    "docs/results/early_exit.md",
    "docs/results/fedkad.md",
    "docs/results/quality_cost.md",
)


def test_catalog_covers_every_results_doc_and_its_files_exist() -> None:
    catalog = load_catalog(ROOT)
    feeds = " ".join(e.doc for e in catalog.experiments)
    assert all(doc in feeds for doc in DOCS)
    assert {"demo", "early-exit", "early-exit-120", "fedavg-fedadam"} <= {
        e.name for e in catalog.experiments
    }
    for experiment in catalog.experiments:
        for entry in experiment.runs:
            entry.spec(ROOT).load()  # the config exists and the overrides validate
        for step in experiment.steps:
            for word in shlex.split(step):
                if word.startswith(("scripts/", "benchmarks/")):
                    assert (ROOT / word).is_file(), f"{experiment.name}: {word}"


def test_a_bad_catalog_names_the_experiment_and_key(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "experiments.yaml").write_text(
        "experiments:\n  - {name: ok, doc: d, minutes: 1, about: a}\n"
        "  - {name: bad, doc: d, minutes: -1, about: a, runs: [{run: x, train: y}]}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_catalog(tmp_path)
    message = str(info.value)
    assert "experiments[bad].minutes" in message and "experiments[bad].runs.0" in message
    assert "experiments.yaml" in message


def test_root_is_found_from_a_subdirectory_and_missing_elsewhere(tmp_path: Path) -> None:
    assert repository_root(ROOT / "src" / "fedasr") == ROOT
    with pytest.raises(ConfigError, match="fedasr checkout"):
        repository_root(tmp_path)


def _spec(tiny_config, tmp_path: Path, *overrides: str) -> RunSpec:  # type: ignore[no-untyped-def]
    path = tmp_path / "experiment.yaml"
    path.write_text(tiny_config(f"run_dir={tmp_path / 'run'}").to_yaml())
    return RunSpec("fl", path, overrides)


def test_finished_runs_are_reused_and_other_settings_refused(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tiny_config, tmp_path)
    assert run_state(spec.load()) == "missing"
    assert ensure_run(spec, progress=False) == "trained"
    model = tmp_path / "run" / "model.safetensors"
    written = model.stat().st_mtime_ns
    assert ensure_run(spec, progress=False) == "reused"
    # the executor does not change results: still the same run
    assert ensure_run(_spec(tiny_config, tmp_path, "executor.shards=3"), progress=False) == "reused"
    assert model.stat().st_mtime_ns == written
    other = _spec(tiny_config, tmp_path, "rounds.total=3")
    assert run_state(other.load()) == "different"
    with pytest.raises(ConfigError, match="other settings"):
        ensure_run(other, progress=False)
    assert model.stat().st_mtime_ns == written


def test_an_interrupted_run_is_resumed(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tiny_config, tmp_path)
    ensure_run(spec, progress=False)
    (tmp_path / "run" / "model.safetensors").unlink()  # as if stopped before the export
    assert run_state(spec.load()) == "unfinished"
    assert ensure_run(spec, progress=False) == "resumed"
    assert run_state(spec.load()) == "finished"


def test_steps_run_in_order_and_a_failing_step_stops(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fedasr.reproduce.catalog import Experiment

    monkeypatch.chdir(tmp_path)
    ok = Experiment(name="x", doc="d", minutes=1, about="a",
                    steps=["fedasr --version > version.txt"])  # fmt: skip
    assert reproduce(ok, tmp_path, progress=False).steps == 1
    assert (tmp_path / "version.txt").read_text().startswith("fedasr ")
    bad = Experiment(name="y", doc="d", minutes=1, about="a", steps=["exit 3", "touch no"])
    with pytest.raises(Exception, match="exited with 3"):
        reproduce(bad, tmp_path, progress=False)
    assert not (tmp_path / "no").exists()


def test_cli_lists_and_dry_runs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    listed = runner.invoke(app, ["reproduce", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "early-exit-120" in listed.output and "min" in listed.output
    dry = runner.invoke(app, ["reproduce", "run", "early-exit-120", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "fedasr run" in dry.output and "early_exit_tables.py" in dry.output
    unknown = runner.invoke(app, ["reproduce", "run", "nope"])
    assert unknown.exit_code != 0 and "early-exit" in unknown.output
