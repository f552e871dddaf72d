"""FedAvg and its family: FedProx, any server optimizer, any weighting, early exit.

FedAvg is the composition of three choices — how clients train locally (objective pieces),
how their pseudo-gradients are weighted, which server optimizer applies the weighted mean — so
FedAdam, FedYogi, FedAvgM, FedProx, DGA and early-exit FL are this one pair of halves
configured differently, not subclasses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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
from fedasr.algorithms.context import ClientContext
from fedasr.algorithms.objectives import ObjectivePart
from fedasr.algorithms.server_opt import ServerOptimizer
from fedasr.algorithms.spec import MAIN, ModelSpec, held_coordinates
from fedasr.models.dims import ConformerDims
from fedasr.train.objective import compose

Weighting = Callable[[ClientResult], float]  # log aggregation weight of a client (picklable)


class FedAvgOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weighting: Literal["examples", "frames", "uniform"] = "examples"


class FedProxOptions(FedAvgOptions):
    mu: float = Field(0.01, ge=0)


@dataclass(frozen=True)
class CountWeighting:
    """log w_k from the client's examples, frames, or 1 (uniform)."""

    by: str = "examples"

    def __call__(self, result: ClientResult) -> float:
        if self.by == "examples":
            return log_weight_examples(result.examples)
        if self.by == "frames":
            return log_weight_examples(result.frames)
        return 0.0  # uniform


def delta_key(params: str) -> str:
    """The aggregate that collects the updates of one server parameter set."""
    return "delta" if params == MAIN else f"delta.{params}"


PseudoGradient = Callable[[RoundAccumulator, str], tuple[torch.Tensor, torch.Tensor]]


def weighted_mean(acc: RoundAccumulator, params: str) -> tuple[torch.Tensor, torch.Tensor]:
    """g = sum_k w_k delta_k / sum_k w_k per coordinate, and the mask of covered coordinates."""
    return acc.weighted(delta_key(params)).mean()


# ---------------------------------------------------------------------------- client half
@dataclass(frozen=True)
class FedAvgClient:
    weighting: Weighting
    parts: tuple[ObjectivePart, ...] = ()
    exit_weights: tuple[float, ...] | None = None

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        started = time.perf_counter()
        assert task.spec is not None, "the server half sets every task's spec"
        spec = task.spec
        model = ctx.model(spec)
        held = held_coordinates(spec, model.layout, broadcast.params[spec.params], broadcast.coords)
        model.load(held.start)
        objective = compose(self.exit_weights, [p.bind(model, held.start) for p in self.parts])
        stats = ctx.train(model, task, broadcast.lr, objective)
        # the delta travels on the CPU whatever device trained (a no-op copy on the CPU)
        delta = held.trained.take(held.start) - held.trained.take(model.flat).cpu()
        cost = ClientCost(
            bytes_down=tensor_bytes(held.sent),
            bytes_up=tensor_bytes(delta),
            examples=stats.examples,
            audio_seconds=stats.audio_seconds,
            steps=stats.steps,
            flops=stats.flops,
            wall_s=time.perf_counter() - started,
        )
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost,
            spec.depth, where=held.where, params=spec.params,
        )  # fmt: skip

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
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
            acc.weighted(delta_key(result.params)).add(result.delta, log_weight, result.coords)
        acc.reports.append(report)
        return report


# ---------------------------------------------------------------------------- server half
@dataclass(frozen=True)
class FedAvgServer:
    """The weighted mean of each parameter set's updates, applied by the server optimizer.
    With several sets (one per tier), each is averaged over the clients that trained it, with
    its own optimizer state (keys `NAME.KEY`; the main set's keys are plain)."""

    optimizer: ServerOptimizer
    dims: ConformerDims
    freeze_frontend: bool = False
    pseudo_gradient: PseudoGradient = weighted_mean  # how the folded updates become g

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        optimizer: dict[str, torch.Tensor] = {}
        for name, tensor in params.items():
            optimizer.update(_prefixed(name, self.optimizer.init_state(tensor)))
        return ServerState(dict(params), optimizer)

    def spec_for(self, task: ClientTask) -> ModelSpec:
        return ModelSpec(self.dims, depth=task.depth, freeze_frontend=self.freeze_frontend)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        return Broadcast(round=round_index, params=state.params, lr=lr)

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        params, optimizer = dict(state.params), dict(state.optimizer)
        metrics: dict[str, Any] = {"lr": self.optimizer.lr_at(state.round)}
        for name in state.params:
            mean, covered = self.pseudo_gradient(acc, name)
            params[name], stepped = self.optimizer.step(
                state.params[name], mean, _unprefixed(name, optimizer), covered, state.round
            )
            optimizer.update(_prefixed(name, stepped))
            prefix = "" if name == MAIN else f"{name}."
            metrics[prefix + "pseudo_grad_norm"] = float(mean.norm())
            metrics[prefix + "covered_share"] = float(covered.float().mean())
        return ServerState(params, optimizer, state.round, state.extras), metrics


def _prefixed(name: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return state if name == MAIN else {f"{name}.{k}": v for k, v in state.items()}


def _unprefixed(name: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if name == MAIN:
        return {k: v for k, v in state.items() if "." not in k}
    prefix = f"{name}."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
