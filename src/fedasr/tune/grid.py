"""Grids that are not searches (`fedasr sweep`): every combination of a few config values, one
run directory each; finished runs are skipped and interrupted ones resumed.

    # configs/sweeps/quality_cost.yaml
    grid:
      partition.params.p: [0.0, 0.25, 0.5, 0.75, 1.0]
      budget:                       # a bundle: keys set together, one value of the axis each
        - {client.local_epochs: 1, rounds.total: 60, eval.every: 4}
        - {client.local_epochs: 2, rounds.total: 30, eval.every: 2}
      seed: [0, 1, 2]

An axis is a dotted config key with a list of values, or a name with a list of mappings (a
bundle). Runs are named by their values, `p=0.25_local_epochs=2_seed=1` (a bundle by its first
key), under OUT; the first axis varies slowest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fedasr.config import ExperimentConfig
from fedasr.errors import ConfigError

Scalar = None | bool | int | float | str


@dataclass(frozen=True)
class GridRun:
    name: str
    values: dict[str, Any]  # dotted config key -> value


def load_grid(path: Path) -> list[GridRun]:
    """Every combination of the grid's axes, in order; errors name the file and axis."""
    if not path.is_file():
        raise ConfigError(f"{path}: grid file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {err}") from None
    if not isinstance(raw, dict) or set(raw) != {"grid"} or not isinstance(raw["grid"], dict):
        raise ConfigError(f"{path}: expected one top-level key `grid:` mapping axes to lists")
    axes = [
        _axis(f"{path}: grid.{name}", str(name), values) for name, values in raw["grid"].items()
    ]
    if not axes:
        raise ConfigError(f"{path}: grid: no axis")
    labels = _labels(axes)
    runs = []
    for combination in itertools.product(*(range(len(values)) for _, values in axes)):
        merged: dict[str, Any] = {}
        parts = []
        for (name, values), index in zip(axes, combination, strict=True):
            merged.update(values[index])
            key = next(iter(values[index]))
            parts.append(f"{labels[name]}={_slug(values[index][key])}")
        runs.append(GridRun("_".join(parts), merged))
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ConfigError(
            f"{path}: runs named alike ({', '.join(twice[:3])}): a bundle is named by its first "
            "key, so that key's value must differ between its entries"
        )
    return runs


def _axis(where: str, name: str, values: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: expected a non-empty list of values")
    if all(isinstance(v, dict) for v in values):
        for value in values:
            if not value:
                raise ConfigError(f"{where}: a bundle entry is empty")
        return name, [{str(k): v for k, v in value.items()} for value in values]
    if any(isinstance(v, dict | list) for v in values):
        raise ConfigError(
            f"{where}: values must all be scalars (a config key's values) or all mappings "
            "(a bundle of keys set together)"
        )
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"{where}: {values} repeats a value")
    return name, [{name: value} for value in values]


def _labels(axes: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, str]:
    """Each axis named by its (first) key's last part, or the whole key where two collide."""
    keys = {name: next(iter(values[0])) for name, values in axes}
    short = {name: key.rsplit(".", 1)[-1] for name, key in keys.items()}
    clashes = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {name: keys[name] if short[name] in clashes else short[name] for name in short}


def _slug(value: Any) -> str:
    text = (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )
    return "".join(c if c.isalnum() or c in ".-+" else "-" for c in text)


def grid_configs(
    runs: list[GridRun], out: Path, make: Callable[[dict[str, Any]], ExperimentConfig]
) -> list[ExperimentConfig]:
    """Validate every run's config before the first one trains (a bad value fails at once)."""
    configs = []
    for run in runs:
        values = {**run.values, "name": run.name, "run_dir": str(out / run.name)}
        try:
            configs.append(make(values))
        except ConfigError as err:
            raise ConfigError(f"grid run {run.name}: {err}") from None
    return configs
