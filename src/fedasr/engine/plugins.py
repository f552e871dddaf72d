"""Plug-ins: how methods that are not an aggregation rule join the one round loop.

Device availability and tiers, the simulated clock, server replay, client-rate decay on a
stalled metric, fall-back to the best model, early stopping, a wall-clock budget... each is a
small object with a few of the methods below. They are assembled outside the engine
(fedasr.experiment.plugins) and handed to the run; the loop calls them at fixed points with a
narrow view — a round index, the tasks, the server state, the round's record — and applies
what they return (a `Change`), never handing out the run itself. Methods a plug-in does not
need are inherited as no-ops. A plug-in's `state_dict` goes into every checkpoint, so
`--resume` restores it exactly; adding one needs no edit in engine/.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fedasr.algorithms.base import ClientReport, ClientTask, ServerState


@dataclass
class Change:
    """What a plug-in changes at one point of a round."""

    metrics: dict[str, Any] = field(default_factory=dict)  # merged into the round's record
    server: ServerState | None = None  # a new server state (replay, fall-back)
    stop: bool = False  # end the run after this round (the plug-in's name is the reason)


@dataclass(frozen=True)
class Progress:
    """Where the run stands when a round ends (before its evaluation)."""

    round: int  # rounds completed, this one included
    wall_s: float  # wall-clock seconds of the earlier rounds
    round_s: float  # wall-clock seconds of this round so far


class Plugin:
    name = "plugin"

    def eligible(self, round_index: int, clients: list[int]) -> list[int]:
        """Clients that may be sampled this round (e.g. the available ones)."""
        return clients

    def assign(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        """Budgets of the sampled clients (e.g. a device tier and its deepest exit), before
        the algorithm picks each client's model spec."""
        return tasks

    def select(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        """The sampled clients that train this attempt (e.g. without predicted stragglers)."""
        return tasks

    def lr_factor(self) -> float:
        """Multiplies the scheduled client learning rate."""
        return 1.0

    def after_aggregate(self, round_index: int, server: ServerState) -> Change:
        """After the server update (e.g. server replay)."""
        return Change()

    def round_metrics(self, round_index: int, reports: Sequence[ClientReport]) -> dict[str, Any]:
        """Extra per-round metrics from the clients' reports (e.g. simulated time)."""
        return {}

    def after_round(self, progress: Progress) -> Change:
        """Once the round's training is done, before its evaluation (e.g. a time budget)."""
        return Change()

    def after_evaluation(
        self, round_index: int, record: dict[str, Any], server: ServerState
    ) -> Change:
        """After an evaluation (e.g. decay on a stall, fall back to the best model, stop)."""
        return Change()

    def stays_stopped(self, progress: Progress) -> bool:
        """On resume of a run this plug-in stopped: whether the stop still holds (a time
        budget lifted by the new config does not)."""
        return True

    def model_metadata(self, server: ServerState) -> dict[str, Any]:
        """What an exported model file says about how it was trained (e.g. the (ε, δ) its
        training spent): merged into the file's metadata."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict returned."""


@dataclass
class Plateau:
    """The best value of a lower-is-better metric and how many observations in a row did not
    improve it by more than `min_delta` — the one tracker behind "best", early stopping,
    stall decay and fall-back."""

    min_delta: float = 0.0
    best: float = math.inf
    stalled: int = 0

    def observe(self, value: float) -> bool:
        """Record `value`; True when it is a new best."""
        if value < self.best - self.min_delta:
            self.best, self.stalled = value, 0
            return True
        self.stalled += 1
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "stalled": self.stalled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", math.inf))
        self.stalled = int(state.get("stalled", 0))
