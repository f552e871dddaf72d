"""The client half of federated pruning: FedAvg's local training of a physically smaller model,
two step hooks, and the client-data importance score uploaded with the update.

- `KeepZeros` holds the coordinates the client's model has but the server did not give it
  (index -1: a pruned half of a live unit, a pruned conv channel) at zero: their gradients are
  cleared after the backward pass (so clipping sees only the sub-network) and their values
  after the optimizer step (AdamW's decay and moments would move them).
- `TaylorScores` accumulates, per mask group of the client's model, the first-order Taylor
  importance |sum over the group of w * dL/dw| after every backward pass, summed over the local
  steps (Molchanov et al. 2019). The client uploads the scores of the groups it holds, in the
  full model's group ids; the server averages them like the update (weighted, per group over
  the clients that hold it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from fedasr.algorithms.aggregate import all_finite
from fedasr.algorithms.base import (
    Broadcast,
    ClientCost,
    ClientReport,
    ClientResult,
    ClientTask,
    RoundAccumulator,
    tensor_bytes,
)
from fedasr.algorithms.context import ClientContext
from fedasr.algorithms.coordinates import Index
from fedasr.algorithms.fedavg import FedAvgClient
from fedasr.algorithms.pruning.structure import Structure, build_structure
from fedasr.algorithms.spec import ModelSpec, held_coordinates
from fedasr.models.flat import FlatModel
from fedasr.train.objective import Objective, StepHooks, compose

SCORES = "pruning.scores"  # the aggregate of the clients' Taylor scores
GROUPS = ".groups"  # broadcast.coords[spec.coords + GROUPS]: the client's groups' full ids


@dataclass(frozen=True)
class KeepZeros:
    positions: torch.Tensor  # the client's own flat positions to hold at zero

    def bind(self, model: FlatModel) -> Objective:
        flat = model.flat
        mask = torch.zeros(flat.numel(), dtype=torch.bool)  # one byte a coordinate
        mask[self.positions] = True
        mask = mask.to(flat.device)
        pairs = [
            (param, view)
            for param, view in zip(
                model.parameters_in_order(), model.layout.views(mask).values(), strict=True
            )
            if bool(view.any())
        ]

        def clear_gradients() -> None:
            for param, view in pairs:
                if param.grad is not None:
                    param.grad.masked_fill_(view, 0.0)

        def clear_values() -> None:
            with torch.no_grad():
                flat.masked_fill_(mask, 0.0)

        return Objective(
            hooks=(StepHooks(after_backward=clear_gradients, after_step=clear_values),)
        )


class TaylorScores:
    """Per-group |sum w * grad|, summed over the steps of one client."""

    def __init__(self, model: FlatModel, structure: Structure) -> None:
        self.groups = structure.groups
        owner = structure.owner()
        owner = torch.where(owner < 0, torch.tensor(self.groups), owner)  # a spare bucket
        device = model.flat.device
        self.pairs = [
            (param, owner[offset : offset + param.numel()].to(device))
            for param, offset in zip(model.parameters_in_order(), model.layout.offsets, strict=True)
            if bool((owner[offset : offset + param.numel()] < self.groups).any())
        ]
        self.total = torch.zeros(self.groups, dtype=torch.float64, device=device)

    def after_backward(self) -> None:
        step = torch.zeros(self.groups + 1, dtype=torch.float64, device=self.total.device)
        seen = False
        for param, owner in self.pairs:
            if param.grad is not None:
                contribution = (param.detach() * param.grad).reshape(-1).double()
                step.index_add_(0, owner, contribution)
                seen = True
        if seen:
            self.total += step[: self.groups].abs()

    def objective(self) -> Objective:
        return Objective(hooks=(StepHooks(after_backward=self.after_backward),))


@dataclass(frozen=True)
class PruningClient:
    fedavg: FedAvgClient  # weighting, objective pieces, exit weights
    pattern: str
    kinds: tuple[str, ...]
    groups: int  # mask groups of the full model
    taylor: bool  # compute and upload client Taylor scores

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        started = time.perf_counter()
        assert task.spec is not None, "the server half sets every task's spec"
        spec = task.spec
        model = ctx.model(spec)
        held = held_coordinates(spec, model.layout, broadcast.params[spec.params], broadcast.coords)
        model.load(held.start)
        pieces = [part.bind(model, held.start) for part in self.fedavg.parts]
        if spec.coords is not None:
            zeros = torch.nonzero(broadcast.coords[spec.coords] < 0).reshape(-1)
            if zeros.numel():
                pieces.append(KeepZeros(zeros).bind(model))
        structure = build_structure(model.dims, self.pattern, self.kinds)
        scorer = TaylorScores(model, structure) if self.taylor else None
        if scorer is not None:
            pieces.append(scorer.objective())
        stats = ctx.train(model, task, broadcast.lr, compose(self.fedavg.exit_weights, pieces))
        delta = held.trained.take(held.start) - held.trained.take(model.flat).cpu()
        extras = {} if scorer is None else self._scores(scorer, structure, spec, broadcast)
        mask_bytes = -(-structure.groups // 8) if spec.coords is not None else 0
        cost = ClientCost(
            bytes_down=tensor_bytes(held.sent) + mask_bytes,
            bytes_up=tensor_bytes(delta, extras.get("scores")),
            examples=stats.examples, audio_seconds=stats.audio_seconds, steps=stats.steps,
            flops=stats.flops, wall_s=time.perf_counter() - started,
        )  # fmt: skip
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost,
            spec.depth, extras=extras, where=held.where, params=spec.params,
        )  # fmt: skip

    def _scores(
        self,
        scorer: TaylorScores,
        structure: Structure,
        spec: ModelSpec,
        broadcast: Broadcast,
    ) -> dict[str, torch.Tensor]:
        """The scores of the groups the client holds and trained, with their full-model ids."""
        if spec.coords is None:
            ids = torch.arange(structure.groups)
        else:
            ids = broadcast.coords[spec.coords + GROUPS]
        layers = spec.dims.layers_for_exit(spec.depth) if spec.depth else spec.dims.layers
        chosen = (ids >= 0) & (structure.group_layer() < layers)  # held, and trained
        return {"scores": scorer.total.cpu()[chosen].float(), "score_groups": ids[chosen]}

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        report = self.fedavg.fold(acc, result)
        scores = result.extras.get("scores")
        if report.ok and scores is not None and all_finite(scores):
            where = Index(f"groups:{_name(result)}", result.extras["score_groups"])
            acc.weighted(SCORES, numel=self.groups).add(scores, report.log_weight, where)
        return report


def _name(result: ClientResult) -> str:
    """Names the client's set of score groups: its coordinates name the spec and depth."""
    where = result.coords
    return where.name if isinstance(where, Index) else f"span{where.start}:{where.stop}"
