"""Everything `fedasr tune` does, as functions: open (or resume) a study for an experiment
config and a search space, run it, write its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from fedasr.config import ExperimentConfig, load_config, with_current_defaults
from fedasr.tune.objective import TuneSpec
from fedasr.tune.plots import write_study_plots
from fedasr.tune.results import objective_names, write_best
from fedasr.tune.space import load_space
from fedasr.tune.study import StudyPlace, open_study, run_study
from fedasr.tune.trial import TrialRunner


@dataclass
class TuneSession:
    study: optuna.Study
    runner: TrialRunner
    spec: TuneSpec
    place: StudyPlace

    def run(self, n_trials: int) -> None:
        run_study(self.study, self.runner, n_trials)

    def write_outcome(self) -> tuple[list[optuna.trial.FrozenTrial], list[Path]]:
        """STUDY_DIR/best.yaml and STUDY_DIR/plots/*.png."""
        best = write_best(self.study, self.place.study_dir / "best.yaml")
        names = objective_names(self.spec)
        return best, write_study_plots(self.study, self.place.study_dir / "plots", names)


def open_session(
    config: Path,
    overrides: list[str],
    space: Path,
    spec: TuneSpec,
    place: StudyPlace,
    sampler: str = "tpe",
    seed: int = 0,
    progress: bool = False,
) -> TuneSession:
    """Validate the config and space (before anything is written), then open the study."""
    base = load_config(config, overrides)
    search = load_space(space, lambda values: load_config(config, overrides, values))
    settings = {"spec": spec.as_dict(), "space": search.as_dict(), "base": _comparable(base)}
    max_steps = spec.prune_steps if spec.budget is not None else base.rounds.total
    study = open_study(place, spec, settings, sampler, seed, max_steps, _upgrade_settings)

    def make(values: dict[str, Any], name: str, run_dir: Path) -> ExperimentConfig:
        return load_config(config, overrides, {**values, "name": name, "run_dir": str(run_dir)})

    runner = TrialRunner(spec, search, make, place.study_dir, progress)
    return TuneSession(study, runner, spec, place)


def _upgrade_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Settings stored by an earlier version: config keys added since count at their default."""
    base = stored.get("base")
    if not isinstance(base, dict):
        return stored
    upgraded = with_current_defaults(base)
    if upgraded is base:  # it no longer validates: compare as stored
        return stored
    return {**stored, "base": _comparable(ExperimentConfig.model_validate(upgraded))}


def _comparable(config: ExperimentConfig) -> dict[str, Any]:
    """The resolved base config without what does not change results."""
    data: dict[str, Any] = config.model_dump(mode="json")
    for key in ("name", "run_dir", "executor"):
        data.pop(key, None)
    data["logging"].pop("progress", None)
    return data
