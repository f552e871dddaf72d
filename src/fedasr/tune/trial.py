"""One tuning trial: a normal run directory under the study, stopped and pruned by TrialWatch,
its values and every cost unit recorded on the Optuna trial."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from fedasr.config import ExperimentConfig
from fedasr.report.cost import total_costs
from fedasr.report.metrics import load_metrics, metric_value
from fedasr.tune.objective import TrialWatch, TuneSpec, objective_values
from fedasr.tune.results import objective_names
from fedasr.tune.runs import run_or_resume
from fedasr.tune.space import SearchSpace
from fedasr.tune.stop_eval import evaluate_final_model

log = logging.getLogger(__name__)
RETRY_OF = "retry_of"  # user attribute: the trial number whose run dir a retry resumes
WORKER = "worker"  # user attribute: {"host", "pid"} of the process running the trial

ConfigMaker = Callable[[dict[str, Any], str, Path], ExperimentConfig]


@dataclass
class TrialRunner:
    """The Optuna objective: sample, run (or resume) the trial's run, return its values."""

    spec: TuneSpec
    space: SearchSpace
    make_config: ConfigMaker  # (sampled values, name, run_dir) -> experiment config
    study_dir: Path
    progress: bool = False

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        values = self.space.suggest(trial)
        number = int(trial.user_attrs.get(RETRY_OF, trial.number))
        name = f"trial-{number:04d}"
        run_dir = self.study_dir / "trials" / name
        trial.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
        trial.set_user_attr("run_dir", str(run_dir))
        config = self.make_config(values, name, run_dir)
        watch = TrialWatch(self.spec, trial)
        log.info("trial %d: %s -> %s", trial.number, _shown(values), run_dir)
        if not _stopped_here_before(run_dir, watch):
            run_or_resume(config, on_round=watch, progress=self.progress)
        records = load_metrics(run_dir / "metrics.jsonl")
        trial.set_user_attr("stopped_by", watch.stopped_by or "rounds.total")
        trial.set_user_attr("rounds", int(records[-1].get("round", len(records))))
        trial.set_user_attr("cost", total_costs(records))
        if watch.stopped_by == "pruned":
            log.info("trial %d: pruned after round %s", trial.number, records[-1].get("round"))
            raise optuna.TrialPruned()
        records = self._with_stop_evaluation(config, records)
        result, attrs = objective_values(self.spec, records)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        named = dict(zip(objective_names(self.spec), result, strict=True))
        log.info("trial %d: %s", trial.number, _shown(named))
        return result[0] if len(result) == 1 else result

    def _with_stop_evaluation(
        self, config: ExperimentConfig, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The last record, evaluated if the run stopped between evaluations."""
        final = records[-1]
        if metric_value(final, self.spec.metric) is not None:
            return records
        scored = evaluate_final_model(config, int(final.get("round", len(records))))
        return [*records[:-1], {**final, **scored}]


def _stopped_here_before(run_dir: Path, watch: TrialWatch) -> bool:
    """A retried trial whose first attempt died after the tuner stopped its run (the model is
    exported): replaying its rounds through the watch stops at its last round again."""
    if not (run_dir / "model.safetensors").is_file():
        return False
    records = load_metrics(run_dir / "metrics.jsonl")
    return any(watch(record) for record in records)


def _shown(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
