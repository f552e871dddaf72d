"""The demo as a user meets it: `fedasr --version`, `fedasr demo --help`, and configs that ship
inside the package (so an installed wheel can run it) and tell the story the report claims."""

from __future__ import annotations

from typer.testing import CliRunner

import fedasr
from fedasr.cli import app
from fedasr.cli.app import installed_version
from fedasr.config import load_config
from fedasr.demo import LABELS, RUNS, demo_configs


def test_version_is_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"fedasr {installed_version()}"
    assert installed_version() == fedasr.__version__


def test_demo_help_says_what_it_runs() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0 and "DGA" in result.output and "early exit" in result.output


def test_demo_configs_are_package_data_with_fixed_budgets() -> None:
    configs = demo_configs()
    assert list(configs) == list(RUNS) and set(LABELS) == set(RUNS)
    loaded = {name: load_config(path) for name, path in configs.items()}
    for name, config in loaded.items():
        assert config.name == name
        # a fixed number of rounds or epochs: results must not depend on the machine's load
        assert config.rounds.time_budget_min is None, name
    assert loaded["centralized"].central.time_budget_min is None
    # centralized is evaluated every epoch: a curve, not one lone point
    assert loaded["centralized"].central.eval_every_epochs == 1
    # one story: the corrupted pair differs only in aggregation
    plain, dga = loaded["fedavg_corrupted"], loaded["dga_corrupted"]
    assert plain.partition == dga.partition and plain.partition.corrupt
    assert plain.algorithm.name == "fedavg" and dga.algorithm.name == "dga"
    assert plain.server == dga.server == loaded["fedavg"].server
    assert loaded["early_exit"].devices is not None
    corpora = {config.data.corpus for config in loaded.values()}
    assert len(corpora) == 1
