"""Search spaces: what loads, and errors that name the file, the line and the key — before any
trial runs; the shipped spaces and grids fit the configs they are written for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fedasr.config import load_config
from fedasr.errors import ConfigError
from fedasr.tune.grid import load_grid
from fedasr.tune.space import load_space

CONFIGS = Path(__file__).parents[2] / "configs"


def check(values: dict[str, Any]) -> None:
    load_config(None, [], values)


def space(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text("# a comment line\nparams:\n" + body)
    return path


def test_a_space_loads_every_kind_of_distribution(tmp_path: Path) -> None:
    loaded = load_space(space(tmp_path, """\
  client.lr: {type: float, low: 1e-4, high: 1.0e-2, log: true}
  server.lr: {type: float, low: 0.5, high: 2.0, step: 0.5}
  client.local_epochs: {type: int, low: 1, high: 4}
  rounds.clients_per_round: {type: categorical, choices: [2, 4, 8]}
"""), check)  # fmt: skip
    lr, server, epochs, cohort = loaded.params
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-2, True)  # 1e-4: a number
    assert server.step == 0.5 and epochs.kind == "int" and cohort.choices == (2, 4, 8)
    assert lr.describe() == "client.lr: float [0.0001, 0.01, log]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  client.lr: {type: gaussian}\n",
            "space.yaml:4: params.client.lr.type: got 'gaussian'; "
            "accepted: float, int, categorical",
        ),
        (
            "  client.lr: {type: float, low: 0.1, high: 0.01}\n",
            ":4: params.client.lr: low (0.1) must be below high (0.01)",
        ),
        ("  client.lr: {type: float, low: 0, high: 1, log: true}\n", "log: true needs low > 0"),
        (
            "  client.lr: {type: float, low: 0.1, high: 1, scale: log}\n",
            "unknown field(s) scale for type float; accepted: type, low, high, log, step",
        ),
        (
            "  client.local_epochs: {type: int, low: 1.5, high: 4}\n",
            "low: got 1.5; accepted: an integer",
        ),
        (
            "  rounds.clients_per_round: {type: categorical, choices: []}\n",
            "choices: expected a non-empty list",
        ),
        (
            "  model.overrides: {type: categorical, choices: [{a: 1}]}\n",
            "accepted: numbers, strings, booleans, null",
        ),
        ("  client.lr: 0.1\n", "params.client.lr: expected a mapping with `type:`"),
        # keys and values the experiment config does not accept
        (
            "  client.lrr: {type: float, low: 0.1, high: 1}\n",
            "space.yaml:4: params.client.lrr: value 0.1 is not accepted",
        ),
        (
            "  client.lr: {type: float, low: 0.0, high: 1, step: 0.5}\n",
            "client.lr: Input should be greater than 0",
        ),
        (
            "  client.optimizer: {type: categorical, choices: [sgd, adamm]}\n",
            "value 'adamm' is not accepted",
        ),
    ],
)
def test_bad_spaces_fail_naming_file_line_and_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_space(space(tmp_path, "  server.lr: {type: float, low: 0.5, high: 2}\n" + body), check)
    assert message in str(info.value)


def test_unknown_config_keys_name_the_keys_accepted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key; allowed keys here: optimizer, lr"):
        load_space(space(tmp_path, "  client.lrr: {type: float, low: 0.1, high: 1}\n"), check)


def test_a_space_needs_its_params_mapping(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("client.lr: {type: float, low: 0.1, high: 1}\n")
    with pytest.raises(ConfigError, match="expected one top-level key `params:`"):
        load_space(path, check)
    with pytest.raises(ConfigError, match="search space file not found"):
        load_space(tmp_path / "missing.yaml", check)
    path.write_text("params: [\n")
    with pytest.raises(ConfigError, match=r"space.yaml:2: invalid YAML"):
        load_space(path, check)


@pytest.mark.parametrize("path", sorted((CONFIGS / "tune").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_fit_the_quality_cost_config(path: Path) -> None:
    experiment = CONFIGS / "quality_cost.yaml"
    loaded = load_space(path, lambda values: load_config(experiment, [], values))
    assert loaded.params


@pytest.mark.parametrize("path", sorted((CONFIGS / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_grids_fit_the_quality_cost_config(path: Path) -> None:
    runs = load_grid(path)
    for run in runs:
        load_config(CONFIGS / "quality_cost.yaml", [], run.values)
    assert len(runs) == 45 and runs[0].name == "seed=0_p=0.0_local_epochs=1"
