"""Server optimizers on the pseudo-gradient g = mean_k (theta_global - theta_k).

Following Reddi et al., "Adaptive Federated Optimization" (arXiv 2003.00295), Algorithm 2,
written for g (the paper's Delta is -g):
    m = b1 m + (1 - b1) g
    Adam:    v = b2 v + (1 - b2) g^2
    Yogi:    v = v - (1 - b2) g^2 sign(v - g^2)
    Adagrad: v = v + g^2
    theta = theta - lr * m / (sqrt(v) + tau),  with v initialized to tau^2 (v_{-1} >= tau^2).
SGD: theta - lr * g (lr 1 is plain FedAvg). Momentum (FedAvgM): m = b m + g; theta - lr * m.
Optional Adam-style bias correction of m and v (off by default, as in the paper).
Optional learning-rate schedule over rounds (`lr_at`); the state does not depend on it.
Coordinates that no client updated (mask False) keep their value and their optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from fedasr.errors import ConfigError
from fedasr.train.schedule import scheduled_lr

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig, LRScheduleSection

KINDS = ("sgd", "momentum", "adam", "yogi", "adagrad")
State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ServerOptimizer:
    kind: str = "sgd"
    lr: float = 1.0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    bias_correction: bool = False
    schedule: LRScheduleSection | None = None  # None: lr in every round
    total_rounds: int = 1  # the span of a cosine schedule

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"server.optimizer: got {self.kind!r}; allowed: {', '.join(KINDS)}")

    def lr_at(self, round_index: int) -> float:
        """The rate of 0-based round `round_index`."""
        if self.schedule is None:
            return self.lr
        return scheduled_lr(self.lr, self.schedule, round_index, self.total_rounds)

    def init_state(self, params: torch.Tensor) -> State:
        if self.kind == "sgd":
            return {}
        if self.kind == "momentum":
            return {"m": torch.zeros_like(params)}
        return {
            "m": torch.zeros_like(params),
            "v": torch.full_like(params, self.tau**2),
            "t": torch.zeros((), dtype=torch.int64),
        }

    def step(
        self,
        params: torch.Tensor,
        grad: torch.Tensor,
        state: State,
        mask: torch.Tensor | None = None,
        round_index: int = 0,
    ) -> tuple[torch.Tensor, State]:
        """Pure: returns new params and state; inputs are not modified."""
        new_params, new_state = self._unmasked(params, grad, state, self.lr_at(round_index))
        if mask is None or bool(mask.all()):
            return new_params, new_state
        kept = {
            k: v if v.dim() == 0 else torch.where(mask, v, state[k]) for k, v in new_state.items()
        }
        return torch.where(mask, new_params, params), kept

    def _unmasked(
        self, params: torch.Tensor, grad: torch.Tensor, state: State, lr: float
    ) -> tuple[torch.Tensor, State]:
        if self.kind == "sgd":
            return params - lr * grad, {}
        if self.kind == "momentum":
            m = self.momentum * state["m"] + grad
            return params - lr * m, {"m": m}
        m = self.beta1 * state["m"] + (1 - self.beta1) * grad
        v = self._second_moment(state["v"], grad)
        t = state["t"] + 1
        m_hat, v_hat = m, v
        if self.bias_correction:
            m_hat = m / (1 - self.beta1 ** int(t))
            v_hat = v / (1 - self.beta2 ** int(t))
        return params - lr * m_hat / (v_hat.sqrt() + self.tau), {"m": m, "v": v, "t": t}

    def _second_moment(self, v: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        g2 = grad * grad
        if self.kind == "adam":
            return self.beta2 * v + (1 - self.beta2) * g2
        if self.kind == "yogi":
            return v - (1 - self.beta2) * g2 * torch.sign(v - g2)
        return v + g2  # adagrad


def server_optimizer(config: ExperimentConfig) -> ServerOptimizer:
    """The `server` section's optimizer, with its schedule over `rounds.total`."""
    s = config.server
    return ServerOptimizer(
        s.optimizer, s.lr, s.momentum, s.beta1, s.beta2, s.tau, s.bias_correction,
        schedule=s.lr_schedule, total_rounds=config.rounds.total,
    )  # fmt: skip
