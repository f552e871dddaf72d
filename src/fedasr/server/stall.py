"""Two reactions to a validation metric (eval.metric, lower is better) that stops improving.

StallDecayHook: after `patience` evaluations in a row without an improvement of more than
`min_delta`, multiply the client learning rate by `factor` (down to `min_lr`), and count again.
FallbackToBestHook: when an evaluation is worse than the best one so far, put the best model
back (its parameters and server-optimizer state), so the next rounds start from it.
Both keep their state in checkpoints; the best model's tensors live in ServerState.extras.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fedasr.engine.hooks import RoundHook
from fedasr.server.schema import StallDecaySection

if TYPE_CHECKING:
    from fedasr.engine.loop import FederatedRun

BEST_PARAMS = "fallback.params"
BEST_OPTIMIZER = "fallback.optimizer."


class StallDecayHook(RoundHook):
    name = "stall_decay"

    def __init__(self, section: StallDecaySection, metric: str, base_lr: float) -> None:
        self.section, self.metric = section, metric
        self.floor = min(1.0, section.min_lr / base_lr)  # the smallest factor min_lr allows
        self.best = math.inf
        self.stalled = 0  # evaluations since the last improvement or decay
        self.factor = 1.0
        self.decays = 0

    def lr_factor(self) -> float:
        return self.factor

    def after_evaluation(self, run: FederatedRun, record: dict[str, Any]) -> dict[str, Any]:
        value = record.get(self.metric)
        if value is None:
            return {}
        if value < self.best - self.section.min_delta:
            self.best, self.stalled = value, 0
        else:
            self.stalled += 1
            if self.stalled >= self.section.patience and self.factor > self.floor:
                self.factor = max(self.factor * self.section.factor, self.floor)
                self.stalled, self.decays = 0, self.decays + 1
        return {"client_lr_factor": self.factor, "client_lr_decays": self.decays}

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "stalled": self.stalled, "factor": self.factor,
                "decays": self.decays}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", math.inf))
        self.stalled = int(state.get("stalled", 0))
        self.factor = float(state.get("factor", 1.0))
        self.decays = int(state.get("decays", 0))


class FallbackToBestHook(RoundHook):
    name = "fallback"

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.best = math.inf
        self.fallbacks = 0

    def after_evaluation(self, run: FederatedRun, record: dict[str, Any]) -> dict[str, Any]:
        value = record.get(self.metric)
        if value is None:
            return {}
        server = run.server
        if value < self.best:
            self.best = value
            server.extras[BEST_PARAMS] = server.params.clone()
            for key, tensor in server.optimizer.items():
                server.extras[BEST_OPTIMIZER + key] = tensor.clone()
        elif value > self.best and BEST_PARAMS in server.extras:
            server.params = server.extras[BEST_PARAMS].clone()
            server.optimizer = {
                key[len(BEST_OPTIMIZER) :]: tensor.clone()
                for key, tensor in server.extras.items()
                if key.startswith(BEST_OPTIMIZER)
            }
            self.fallbacks += 1
            return {"fell_back": True, "fallbacks": self.fallbacks}
        return {"fell_back": False, "fallbacks": self.fallbacks}

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "fallbacks": self.fallbacks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", math.inf))
        self.fallbacks = int(state.get("fallbacks", 0))
