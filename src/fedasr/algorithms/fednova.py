"""FedNova (Wang et al., "Tackling the Objective Inconsistency Problem in Heterogeneous
Federated Optimization", NeurIPS 2020): FedAvg for clients that take different numbers of
local steps.

Speaker clients hold different amounts of audio, so with `local_epochs` they run different
numbers of steps, and plain FedAvg lets the busiest clients pull the model towards their own
optimum. FedNova averages *normalized* updates d_k = Δ_k / τ_k (τ_k: client k's local steps)
and rescales by the effective step count:

    g = τ_eff · Σ_k p_k d_k,    τ_eff = Σ_k p_k τ_k,    p_k ∝ the client's weight (examples).

(The paper's a_k = τ_k for local SGD without momentum; we use τ_k whatever the local
optimizer, which is exact for `client.optimizer: sgd` and a documented approximation for
adamw.) g goes to any server optimizer, like FedAvg's.

This file is the worked example of docs/engine.md, "Adding an algorithm": a client half
written against `ClientContext`, a server half composed from FedAvg's, one registry line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel

from fedasr.algorithms.base import (
    Algorithm,
    Broadcast,
    ClientCost,
    ClientReport,
    ClientResult,
    ClientTask,
    RoundAccumulator,
    tensor_bytes,
)
from fedasr.algorithms.context import ClientContext
from fedasr.algorithms.fedavg import (
    CountWeighting,
    FedAvgClient,
    FedAvgOptions,
    FedAvgServer,
    Weighting,
    weighted_mean,
)
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import MAIN, held_coordinates
from fedasr.models.dims import ConformerDims
from fedasr.train.objective import Objective

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig

STEPS = "steps"  # the aggregate of the clients' weighted step counts (tau_eff)


@dataclass(frozen=True)
class FedNovaClient:
    weighting: Weighting
    exit_weights: tuple[float, ...] | None = None

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        started = time.perf_counter()
        assert task.spec is not None
        model = ctx.model(task.spec)  # built once per architecture on this worker
        held = held_coordinates(
            task.spec, model.layout, broadcast.params[task.spec.params], broadcast.coords
        )
        model.load(held.start)
        stats = ctx.train(model, task, broadcast.lr, Objective(self.exit_weights))
        steps = max(stats.steps, 1)
        delta = (held.trained.take(held.start) - held.trained.take(model.flat).cpu()) / steps
        cost = ClientCost(
            bytes_down=tensor_bytes(held.sent),
            bytes_up=tensor_bytes(delta) + 4,  # and its step count
            examples=stats.examples, audio_seconds=stats.audio_seconds, steps=stats.steps,
            flops=stats.flops, wall_s=time.perf_counter() - started,
        )  # fmt: skip
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost,
            task.spec.depth, stats={STEPS: float(steps)}, where=held.where,
        )  # fmt: skip

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        report = FedAvgClient(self.weighting).fold(acc, result)  # the normalized update
        if report.ok:
            steps = torch.tensor([result.stats[STEPS]])
            acc.weighted(STEPS, numel=1).add(steps, report.log_weight)
        return report


def nova_pseudo_gradient(acc: RoundAccumulator, params: str) -> tuple[torch.Tensor, torch.Tensor]:
    direction, covered = weighted_mean(acc, params)
    tau_eff, _ = acc.weighted(STEPS, numel=1).mean()
    return direction * tau_eff[0], covered


def build_fednova(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """The registry's builder: `algorithm: {name: fednova, weighting: examples}`."""
    assert isinstance(options, FedAvgOptions)
    weights = config.client.exit_weights
    client = FedNovaClient(CountWeighting(options.weighting), tuple(weights) if weights else None)
    server = FedAvgServer(server_optimizer(config), dims, pseudo_gradient=nova_pseudo_gradient)
    return Algorithm("fednova", client, server, {MAIN: dims})
