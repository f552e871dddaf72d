"""A study's figures, drawn by Optuna's matplotlib module (no plotly): optimisation history,
Pareto front (two objectives), parameter importances (PED-ANOVA: needs no scikit-learn).

"Not reached" (an infinite cost to target) is drawn at the largest finite value seen, so a
figure keeps its scale; the trial tables say which trials never reached the target.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt
import optuna
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)


def write_study_plots(study: optuna.Study, out_dir: Path, names: list[str]) -> list[Path]:
    """OUT/*.png for what the study's finished trials allow; `names` label the objectives."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    vis = optuna.visualization.matplotlib
    written = []
    for index, name in enumerate(names):
        target = _capped(complete, index)
        history = partial(vis.plot_optimization_history, study, target=target, target_name=name)
        written += _save(out_dir / f"history_{_slug(name)}.png", history)
        if len(complete) >= 2:
            importance = partial(vis.plot_param_importances, study, evaluator=_evaluator(),
                                 target=target, target_name=name)  # fmt: skip
            written += _save(out_dir / f"importance_{_slug(name)}.png", importance)
    if len(names) == 2:
        first, second = _capped(complete, 0), _capped(complete, 1)
        pareto = partial(vis.plot_pareto_front, study, target_names=names,
                         targets=lambda t: (first(t), second(t)))  # fmt: skip
        written += _save(out_dir / "pareto_front.png", pareto)
    return written


def _capped(trials: list[FrozenTrial], index: int) -> Callable[[FrozenTrial], float]:
    finite = [t.values[index] for t in trials if t.values and math.isfinite(t.values[index])]
    cap = max(finite) if finite else 0.0

    def value(trial: FrozenTrial) -> float:
        number = trial.values[index]
        return number if math.isfinite(number) else cap

    return value


def _evaluator() -> optuna.importance.BaseImportanceEvaluator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.importance.PedAnovaImportanceEvaluator()


def _save(path: Path, draw: Callable[[], object]) -> list[Path]:
    """Draw with Optuna's style inside a private rc context (it sets pyplot's global style)."""
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # PED-ANOVA's notes on few trials
        try:
            axes = draw()
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            log.info("%s: not drawn (%s)", path.name, err)
            plt.close("all")
            return []
        figure = getattr(axes, "figure", None) or plt.gcf()
        figure.set_size_inches(7, 4.5)
        figure.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close("all")
    return [path]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")
