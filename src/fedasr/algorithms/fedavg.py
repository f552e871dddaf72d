"""FedAvg and its family: FedProx (a proximal term), any server optimizer, any weighting.

FedAvg is the composition of three choices — how clients train locally, how their
pseudo-gradients are weighted, which server optimizer applies the weighted mean — so FedAdam,
FedYogi, FedAvgM, FedProx and DGA are this one class configured differently, not subclasses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from fedasr.algorithms.aggregate import all_finite, log_weight_examples
from fedasr.algorithms.base import (
    Broadcast,
    ClientCost,
    ClientReport,
    ClientResult,
    ClientTask,
    RoundAccumulator,
    ServerState,
    tensor_bytes,
)
from fedasr.algorithms.server_opt import ServerOptimizer

if TYPE_CHECKING:
    from fedasr.engine.worker import WorkerContext

Weighting = Callable[[ClientResult], float]  # log aggregation weight of a client


class FedAvgOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weighting: Literal["examples", "frames", "uniform"] = "examples"


class FedProxOptions(FedAvgOptions):
    mu: float = Field(0.01, ge=0)


def weighting_by(kind: str) -> Weighting:
    if kind == "examples":
        return lambda result: log_weight_examples(result.examples)
    if kind == "frames":
        return lambda result: log_weight_examples(result.frames)
    return lambda result: 0.0  # uniform


class FedAvg:
    def __init__(
        self,
        server_optimizer: ServerOptimizer,
        weighting: Weighting,
        *,
        prox_mu: float = 0.0,
        freeze_frontend: bool = False,
        name: str = "fedavg",
    ) -> None:
        self.name = name
        self.server_optimizer = server_optimizer
        self.weighting = weighting
        self.prox_mu = prox_mu
        self.freeze_frontend = freeze_frontend

    # ------------------------------------------------------------------ server half
    def broadcast(self, server: ServerState, round_index: int, lr: float) -> Broadcast:
        return Broadcast(round=round_index, params=server.params, lr=lr)

    def server_update(self, server: ServerState, acc: RoundAccumulator) -> dict[str, Any]:
        mean, covered = acc.weighted("delta").mean()
        server.params, server.optimizer = self.server_optimizer.step(
            server.params, mean, server.optimizer, covered, server.round
        )
        return {
            "lr": self.server_optimizer.lr_at(server.round),
            "pseudo_grad_norm": float(mean.norm()),
            "covered_share": float(covered.float().mean()),
        }

    # ------------------------------------------------------------------ client half
    def client_update(
        self, worker: WorkerContext, task: ClientTask, broadcast: Broadcast
    ) -> ClientResult:
        started = time.perf_counter()
        # an early-exit client holds the prefix up to its exit; a frozen front-end is neither
        # trained nor sent back, so the upload is the slice [start, span)
        span = worker.layout.span(task.depth)
        start = worker.layout.frontend_span if self.freeze_frontend else 0
        worker.load(broadcast.params)
        worker.model.frontend.requires_grad_(not self.freeze_frontend)
        hook = self._proximal_hook(worker, broadcast.params) if self.prox_mu > 0 else None
        stats = worker.local_train(task, broadcast.lr, after_backward=hook)
        # the delta travels on the CPU whatever device trained (a no-op copy on the CPU)
        delta = broadcast.params[start:span] - worker.flat[start:span].cpu()
        cost = ClientCost(
            bytes_down=tensor_bytes(broadcast.params[:span]),
            bytes_up=tensor_bytes(delta),
            examples=stats.examples,
            audio_seconds=stats.audio_seconds,
            steps=stats.steps,
            flops=stats.flops,
            wall_s=time.perf_counter() - started,
        )
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost, task.depth,
            offset=start,
        )  # fmt: skip

    def _proximal_hook(
        self, worker: WorkerContext, global_params: torch.Tensor
    ) -> Callable[[], None]:
        """FedProx: the gradient of mu/2 ||theta - theta_global||^2, added after backward."""
        anchor = global_params.to(worker.device)  # once per client; the same tensor on the CPU
        pairs = [
            (param, global_view)
            for param, global_view in zip(
                (dict(worker.model.named_parameters())[n] for n in worker.layout.names),
                worker.layout.views(anchor).values(),
                strict=True,
            )
        ]

        def add_proximal_gradient() -> None:
            for param, anchor in pairs:
                if param.grad is not None:
                    param.grad.add_(param.detach() - anchor, alpha=self.prox_mu)

        return add_proximal_gradient

    def accumulate(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        log_weight = self.weighting(result)
        report = ClientReport(
            result.client_id, ok=True, cost=result.cost, loss_per_frame=result.loss_per_frame,
            log_weight=log_weight, depth=result.depth, stats=dict(result.stats),
        )  # fmt: skip
        if result.delta is None or not all_finite(result.delta):
            report.ok, report.error = False, "non-finite model update"
        elif not math.isfinite(log_weight):
            report.ok, report.error = False, "zero or non-finite aggregation weight"
        else:
            acc.weighted("delta").add(result.delta, log_weight, result.offset)
        acc.reports.append(report)
        return report
