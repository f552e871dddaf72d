"""A study's outcome as rows and files: the trial table, the best trials, best.yaml."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from fedasr.tune.objective import TuneSpec


def objective_names(spec: TuneSpec) -> list[str]:
    to_target = f"{spec.unit}_to_target"
    if spec.objective == "wer_at_budget":
        return [f"{spec.metric} at {spec.budget:g} {spec.unit}"]
    if spec.objective == "cost_to_target":
        return [f"{to_target} ({spec.metric} <= {spec.target:g})"]
    return [f"{spec.metric} at {spec.budget:g} {spec.unit}", to_target]


def trial_rows(study: optuna.Study, spec: TuneSpec) -> tuple[list[str], list[list[str]]]:
    """Headers and cells, one row per trial (waiting retries left out)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    keys = sorted({key for trial in trials for key in trial.params})
    headers = ["trial", "state", *keys, *objective_names(spec), spec.unit, "rounds", "stopped by"]
    best = {t.number for t in _best(study)}
    cells = []
    for trial in trials:
        mark = " *" if trial.number in best else ""
        values = trial.values or [None] * len(spec.directions)
        cost = (trial.user_attrs.get("cost") or {}).get(spec.unit)
        cells.append([
            f"{trial.number}{mark}", trial.state.name.lower(),
            *(_text(trial.params.get(key)) for key in keys),
            *(_value(v) for v in values), _text(cost),
            _text(trial.user_attrs.get("rounds")), str(trial.user_attrs.get("stopped_by", "")),
        ])  # fmt: skip
    return headers, cells


def write_best(study: optuna.Study, path: Path) -> list[FrozenTrial]:
    """The best trial (or the Pareto-optimal ones) as `key: value` overrides, for `fedasr run`."""
    best = _best(study)
    if not best:
        return []
    entries: list[dict[str, Any]] = [
        {"trial": t.number, "values": list(t.values), "run_dir": t.user_attrs.get("run_dir"),
         "overrides": dict(t.params)}
        for t in best
    ]  # fmt: skip
    partial = path.with_suffix(".yaml.tmp")
    partial.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    os.replace(partial, path)
    return best


def _best(study: optuna.Study) -> list[FrozenTrial]:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    return list(study.best_trials)


def _value(value: float | None) -> str:
    if value is None:
        return "—"
    return "not reached" if math.isinf(value) else f"{value:.4g}"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
