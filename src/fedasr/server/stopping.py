"""Two ways a run ends before `rounds.total`: early stopping on a stalled metric, and a
wall-clock budget. Both are plug-ins; the loop only ends the run when one says so."""

from __future__ import annotations

import logging
from typing import Any

from fedasr.algorithms.base import ServerState
from fedasr.engine.plugins import Change, Plateau, Plugin, Progress

log = logging.getLogger(__name__)


class EarlyStopping(Plugin):
    """Stop after `patience` evaluations in a row without `metric` improving by more than
    `min_delta`. Final: a resumed run it stopped stays stopped."""

    name = "early_stopping"

    def __init__(self, metric: str, patience: int, min_delta: float) -> None:
        self.metric, self.patience = metric, patience
        self.plateau = Plateau(min_delta)

    def after_evaluation(
        self, round_index: int, record: dict[str, Any], server: ServerState
    ) -> Change:
        value = record.get(self.metric)
        if value is None or self.plateau.observe(value) or self.plateau.stalled < self.patience:
            return Change()
        log.info("early stopping: %s did not improve for %d evaluations", self.metric,
                 self.patience)  # fmt: skip
        return Change(stop=True)

    def state_dict(self) -> dict[str, Any]:
        return self.plateau.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau.load_state_dict(state)


class TimeBudget(Plugin):
    """`rounds.time_budget_min`: stop (after a final evaluation) once the run's wall-clock time
    would pass the budget. A resumed run with a larger budget (or none) goes on."""

    name = "time_budget"

    def __init__(self, minutes: float | None) -> None:
        self.seconds = None if minutes is None else 60 * minutes

    def after_round(self, progress: Progress) -> Change:
        if self.seconds is None or progress.wall_s + progress.round_s <= self.seconds:
            return Change()
        log.info("rounds.time_budget_min=%s reached after round %d", self.seconds / 60,
                 progress.round)  # fmt: skip
        return Change(stop=True)

    def stays_stopped(self, progress: Progress) -> bool:
        return self.seconds is not None and progress.wall_s >= self.seconds
