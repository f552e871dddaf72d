"""Two reactions to a validation metric (eval.metric, lower is better) that stops improving.

StallDecay: after `patience` evaluations in a row without an improvement of more than
`min_delta`, multiply the client learning rate by `factor` (down to `min_lr`), and count again.
FallbackToBest: when an evaluation is worse than the best one so far, put the best model back
(its parameters and server-optimizer state), so the next rounds start from it.
Both keep their state in checkpoints; the best model's tensors live in ServerState.extras.
"""

from __future__ import annotations

from typing import Any

from fedasr.algorithms.base import ServerState
from fedasr.algorithms.spec import MAIN
from fedasr.engine.plugins import Change, Plateau, Plugin
from fedasr.server.schema import StallDecaySection

BEST_PARAMS = "fallback.params"
BEST_OPTIMIZER = "fallback.optimizer."


class StallDecay(Plugin):
    name = "stall_decay"

    def __init__(self, section: StallDecaySection, metric: str, base_lr: float) -> None:
        self.section, self.metric = section, metric
        self.floor = min(1.0, section.min_lr / base_lr)  # the smallest factor min_lr allows
        self.plateau = Plateau(section.min_delta)  # stalled: since the last improvement or decay
        self.factor = 1.0
        self.decays = 0

    def lr_factor(self) -> float:
        return self.factor

    def after_evaluation(
        self, round_index: int, record: dict[str, Any], server: ServerState
    ) -> Change:
        value = record.get(self.metric)
        if value is None:
            return Change()
        improved = self.plateau.observe(value)
        stalled = not improved and self.plateau.stalled >= self.section.patience
        if stalled and self.factor > self.floor:
            self.factor = max(self.factor * self.section.factor, self.floor)
            self.plateau.stalled, self.decays = 0, self.decays + 1
        return Change({"client_lr_factor": self.factor, "client_lr_decays": self.decays})

    def state_dict(self) -> dict[str, Any]:
        return {**self.plateau.state_dict(), "factor": self.factor, "decays": self.decays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau.load_state_dict(state)
        self.factor = float(state.get("factor", 1.0))
        self.decays = int(state.get("decays", 0))


class FallbackToBest(Plugin):
    name = "fallback"

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.plateau = Plateau()
        self.fallbacks = 0

    def after_evaluation(
        self, round_index: int, record: dict[str, Any], server: ServerState
    ) -> Change:
        value = record.get(self.metric)
        if value is None:
            return Change()
        if self.plateau.observe(value):
            extras = dict(server.extras)
            extras[BEST_PARAMS] = server.main.clone()
            for key, tensor in server.optimizer.items():
                extras[BEST_OPTIMIZER + key] = tensor.clone()
            saved = ServerState(server.params, server.optimizer, server.round, extras)
            return Change({"fell_back": False, "fallbacks": self.fallbacks}, server=saved)
        if value > self.plateau.best and BEST_PARAMS in server.extras:
            restored = ServerState(
                {**server.params, MAIN: server.extras[BEST_PARAMS].clone()},
                {
                    key[len(BEST_OPTIMIZER) :]: tensor.clone()
                    for key, tensor in server.extras.items()
                    if key.startswith(BEST_OPTIMIZER)
                },
                server.round,
                server.extras,
            )
            self.fallbacks += 1
            return Change({"fell_back": True, "fallbacks": self.fallbacks}, server=restored)
        return Change({"fell_back": False, "fallbacks": self.fallbacks})

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.plateau.best, "fallbacks": self.fallbacks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau.load_state_dict(state)
        self.fallbacks = int(state.get("fallbacks", 0))
