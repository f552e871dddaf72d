"""Helpers for tuning tests: experiment and search-space files, and reading a study back."""

from __future__ import annotations

from pathlib import Path

import optuna

from fedasr.config import ExperimentConfig


def write_config(config: ExperimentConfig, path: Path) -> Path:
    """The resolved config as a YAML file `fedasr tune` can start every trial from."""
    path.write_text(config.to_yaml())
    return path


def write_space(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def load(study_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=study_dir.name, storage=f"sqlite:///{study_dir}/study.db")


def states(study: optuna.Study) -> list[str]:
    return [trial.state.name for trial in study.get_trials(deepcopy=False)]
