"""FedKAD (Shi, Radu, Yang, EuroMLSys 2023; shared/ALGORITHMS.md §3): heterogeneous client
models that share knowledge — per-label prototypes of the top-level features — besides their
tier's parameters.

Round r, client c of model tier m (algorithms/tiers.py):
1. start from the server's set m; when distillation is on (lambda > 0, r >= warmup_rounds,
   some label known) also receive the prototypes K (V x D) and which labels are known;
2. train on L_CTC + lambda L_KD (algorithms/knowledge.PrototypeDistillation);
3. compute its knowledge on its own data with the trained model: mu_{c,v}, n_{c,v};
4. upload its update of set m, mu (V x D floats) and n (V floats).
The server averages each set within its tier (FedAvgServer) and the knowledge by counts
(`aggregate_knowledge`). Bytes up and down are the real tensors: parameters, mu and n up;
parameters, K and the known mask down. FLOPs: training plus the knowledge forward passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field

from fedasr.algorithms.aggregate import all_finite
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
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgOptions, Weighting
from fedasr.algorithms.knowledge import (
    COUNT,
    KNOWN,
    PROTOTYPES,
    SUM,
    LabelRule,
    PrototypeDistillation,
    aggregate_knowledge,
    fold_knowledge,
    local_knowledge,
)
from fedasr.algorithms.spec import held_coordinates
from fedasr.algorithms.tiers import Extras, TierMap, tiered_server
from fedasr.models.dims import ConformerDims
from fedasr.train.objective import compose

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fedasr.config import ExperimentConfig

MEAN_KEY, COUNT_KEY = "knowledge.mean", "knowledge.count"  # a client's upload


class FedKADOptions(FedAvgOptions):
    kd_weight: float = Field(0.1, ge=0)  # lambda
    kd_level: Literal["feature", "logit"] = "feature"
    temperature: float = Field(1.0, gt=0)  # logit level only
    warmup_rounds: int = Field(1, ge=0)  # no L_KD before this round (knowledge still shared)
    alignment: Literal["forced", "best_path"] = "forced"
    include_blank: bool = True  # blank frames have a prototype like any label


@dataclass(frozen=True)
class FedKADClient:
    weighting: Weighting
    rule: LabelRule
    vocab: int
    kd_weight: float
    kd_level: str = "feature"
    temperature: float = 1.0

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        started = time.perf_counter()
        assert task.spec is not None, "the server half sets every task's spec"
        spec = task.spec
        model = ctx.model(spec)
        held = held_coordinates(spec, model.layout, broadcast.params[spec.params], broadcast.coords)
        model.load(held.start)
        received = [broadcast.extras[k] for k in (PROTOTYPES, KNOWN) if k in broadcast.extras]
        parts = []
        if len(received) == 2:
            prototypes, known = received
            parts.append(
                PrototypeDistillation(
                    prototypes, known, self.kd_weight, self.rule, self.kd_level, self.temperature
                )
            )
        objective = compose(None, [part.bind(model, held.start) for part in parts])
        stats = ctx.train(model, task, broadcast.lr, objective)
        delta = held.trained.take(held.start) - held.trained.take(model.flat).cpu()
        knowledge = local_knowledge(model, ctx.batches(model, task), self.rule, self.vocab)
        cost = ClientCost(
            bytes_down=tensor_bytes(held.sent, *received),
            bytes_up=tensor_bytes(delta, knowledge.mean, knowledge.count),
            examples=stats.examples, audio_seconds=stats.audio_seconds, steps=stats.steps,
            flops=stats.flops + knowledge.flops, wall_s=time.perf_counter() - started,
        )  # fmt: skip
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost,
            spec.depth, extras={MEAN_KEY: knowledge.mean, COUNT_KEY: knowledge.count},
            where=held.where, params=spec.params,
        )  # fmt: skip

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        mean, count = result.extras[MEAN_KEY], result.extras[COUNT_KEY]
        if not all_finite(mean):  # neither its update nor its knowledge is aggregated
            report = ClientReport(result.client_id, ok=False, error="non-finite knowledge",
                                  cost=result.cost, depth=result.depth)  # fmt: skip
            acc.reports.append(report)
            return report
        report = FedAvgClient(self.weighting).fold(acc, result)
        if report.ok:
            fold_knowledge(acc, mean, count)
        return report


@dataclass(frozen=True)
class PrototypeSharing:
    """The server's side of FedKAD's knowledge (a `tiers.Sharing`)."""

    vocab: int
    dim: int
    distil: bool  # lambda > 0: send the prototypes to clients
    warmup_rounds: int

    def init(self) -> Extras:
        return {
            PROTOTYPES: torch.zeros(self.vocab, self.dim),
            KNOWN: torch.zeros(self.vocab, dtype=torch.bool),
        }

    def broadcast(self, extras: Extras, round_index: int) -> Extras:
        known = extras[KNOWN]
        if not self.distil or round_index < self.warmup_rounds or not bool(known.any()):
            return {}
        return {PROTOTYPES: extras[PROTOTYPES], KNOWN: known}

    def update(
        self, extras: Extras, acc: RoundAccumulator, round_index: int
    ) -> tuple[Extras, dict[str, Any]]:
        sums, counts = acc.plain.get(SUM), acc.plain.get(COUNT)
        prototypes, known = aggregate_knowledge(extras[PROTOTYPES], extras[KNOWN], sums, counts)
        seen = 0 if counts is None else int((counts > 0).sum())
        metrics = {"knowledge_labels_seen": seen, "knowledge_labels_known": int(known.sum())}
        return {**extras, PROTOTYPES: prototypes, KNOWN: known}, metrics


def build_fedkad(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """The registry's builder: `algorithm: {name: fedkad, kd_weight: 0.1, ...}`."""
    assert isinstance(options, FedKADOptions)
    tiers = TierMap.of(config, dims)
    rule = LabelRule(options.alignment, options.include_blank)
    client = FedKADClient(
        CountWeighting(options.weighting), rule, dims.vocab, options.kd_weight,
        options.kd_level, options.temperature,
    )  # fmt: skip
    sharing = PrototypeSharing(
        dims.vocab, tiers.feature_dim(), options.kd_weight > 0, options.warmup_rounds
    )
    return Algorithm("fedkad", client, tiered_server(config, tiers, sharing), tiers.dims)
