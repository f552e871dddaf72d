"""scripts/quality_cost_tables.py on synthetic sweeps: runs grouped by p and local epochs,
medians over seeds with not-reached runs counted as such, unfinished runs listed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from report_runs import federated_records, write_run

SCRIPT = Path(__file__).parents[2] / "scripts" / "quality_cost_tables.py"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quality_cost_tables", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep(tmp_path: Path) -> Path:
    """p=0 at 1 local epoch: seeds like `base` (0.8, 0.6, 0.5) and `fast` (0.7, 0.5, 0.45) and
    an unfinished third seed; p=1: three seeds like `fast`."""
    out = tmp_path / "sweep"
    index = []
    for p, kinds in ((0.0, ["base", "fast", None]), (1.0, ["fast"] * 3)):
        for seed, kind in enumerate(kinds):
            name = f"seed={seed}_p={p}_local_epochs=1"
            values = {"seed": seed, "partition.params.p": p, "client.local_epochs": 1}
            index.append({"name": name, "run_dir": str(out / name), "values": values})
            if kind is not None:
                (write_run(out / name, federated_records(kind)) / "model.safetensors").touch()
    (out / "sweep.jsonl").write_text("".join(json.dumps(row) + "\n" for row in index))
    return out


def test_tables_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = sweep(tmp_path)
    argv = sys.argv
    iid = out / "seed=0_p=1.0_local_epochs=1"
    sys.argv = ["quality_cost_tables.py", "--sweep", str(out), "--target", "0.55",
                "--arm", f"IID={iid}", "--plot-dir", str(tmp_path)]  # fmt: skip
    try:
        script().main()
    finally:
        sys.argv = argv
    text = capsys.readouterr().out
    # p=0: finals 50 and 45 % -> median 47.5; example-passes to 0.55: 50 and 35 -> 42.5 (by hand)
    assert "| 0 | 47.5 (45.0–50.0) [2] |" in text and "| 0 | 42 (35–50) [2] |" in text
    assert "| 1 | 45.0 (45.0–45.0) |" in text and "| 1 | 35 (35–35) |" in text
    assert "not finished (left out): seed=2_p=0.0_local_epochs=1" in text
    assert "| IID | 1 | 45.0 | 35 |" in text
    assert (tmp_path / "quality_cost_curves.png").is_file()
    assert (tmp_path / "quality_cost_tuned.png").is_file()


def test_a_median_over_seeds_that_mostly_missed_is_not_reached() -> None:
    spread = script().spread
    inf = float("inf")
    assert spread([1.0, 2.0, inf]) == "2.0 (1.0–n/r)"
    assert spread([1.0, inf, inf]) == "n/r (1.0–n/r)"
    assert spread([1.0, inf]) == "n/r (1.0–n/r)"
    assert spread([0.5], scale=100) == "50.0"


def test_the_study_table_lists_every_trial_with_its_state(tmp_path: Path) -> None:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from fedasr.tune.objective import TuneSpec
    from fedasr.tune.study import SETTINGS

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    spec = TuneSpec("wer_at_budget", budget=100.0)
    study.set_user_attr(SETTINGS, {"spec": spec.as_dict()})
    lr = {"client.lr": FloatDistribution(1e-4, 1e-1, log=True)}
    done = {"cost": {"examples": 100.0}, "rounds": 5, "stopped_by": "budget"}
    study.add_trial(create_trial(params={"client.lr": 0.01}, distributions=lr, value=0.4,
                                 user_attrs=done))  # fmt: skip
    study.add_trial(create_trial(params={"client.lr": 0.05}, distributions=lr,
                                 state=TrialState.FAIL))  # fmt: skip
    table = script().study_table(tmp_path)
    assert "| 0 * | complete | 0.01 | 0.4 | 100 | 5 | budget |" in table
    assert "| 1 | fail | 0.05 | — | — | — |  |" in table
