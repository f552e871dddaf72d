"""Trust around any FedAvg-family algorithm — attacks, robust aggregation, client-level DP and
secure aggregation — by composition: the registry's algorithm is wrapped, never flagged.

Client half (on the worker), after the inner half's `update` has trained the client:

1. **attack** — a task the attack plug-in tagged (trust/plugins.py) replaces its update Δ by
   the poisoned one (trust/attacks.py), seeded by (seed, round, client index);
2. **DP** — clip to the bound the broadcast carries, weight, and add the client's noise in
   local or distributed mode (trust/dp.py, `privatize`).

Then `fold`, in one of three ways (`fold_mode`):

    fold    the inner half's own fold (no dp, no secagg, robust `mean` without clip)
    keep    the update kept whole in the accumulator with the inner half's weight (robust
            aggregation needs every update; SecAgg masks each one)
    sum     DP without SecAgg: the plain float64 sum of the privatized vectors

The inner fold always runs (into a scratch accumulator when the update is diverted), so its
checks, its weighting and any other aggregate it keeps (FedNova's step counts) are unchanged.

Server half: the mode's pseudo-gradient (trust/server_steps.py) replaces the `delta` aggregate
and the inner server half's `update` applies it — its server optimizer, its pseudo-gradient
rule — so trust composes with every server optimizer, with DGA's weights and with FedNova.
Its state (the adaptive clip bounds, the noise multiplier of every round so far) lives in
`ServerState.extras`, so checkpoints and `--resume` carry it exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from fedasr.algorithms.aggregate import all_finite
from fedasr.algorithms.base import (
    Algorithm,
    Broadcast,
    ClientHalf,
    ClientReport,
    ClientResult,
    ClientTask,
    KeptUpdate,
    RoundAccumulator,
    ServerHalf,
    ServerState,
)
from fedasr.algorithms.context import ClientContext
from fedasr.algorithms.fedavg import delta_key
from fedasr.algorithms.spec import MAIN, ModelSpec
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel, dims_key
from fedasr.trust import keys
from fedasr.trust.attacks import poison, zeros_target
from fedasr.trust.dp import privatize
from fedasr.trust.privacy import PrivacyPlan
from fedasr.trust.schema import AttackGroup, TrustSection
from fedasr.trust.server_steps import ServerStep, fold_mode, trust_step


@functools.lru_cache(maxsize=4)
def _init_target(dims_key: str, seed: int) -> torch.Tensor:
    """θ_target of `target: init`: the model initialised with `target_seed`, built once per
    worker process."""
    return FlatModel(ConformerDims(**json.loads(dims_key)), seed=seed).flat.detach().clone()


# ---------------------------------------------------------------------------- client half
@dataclass(frozen=True)
class TrustClient:
    inner: ClientHalf
    section: TrustSection
    seed: int  # the run's seed: attacks and noise derive from (seed, round, client index)
    dims: ConformerDims  # the main architecture (θ_target of a target_model attack)
    privacy: PrivacyPlan | None = None

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        result = self.inner.update(ctx, task, broadcast)
        if result.delta is None or not all_finite(result.delta):
            return result  # the fold rejects it
        group = task.tags.get(keys.ATTACK_TAG)
        if group is not None:
            result.delta = self._poisoned(self.section.attacks[group], result, task, broadcast)
            result.stats[keys.ATTACK_STAT] = float(group)
        dp, plan = self.section.dp, self.privacy
        if dp is not None and plan is not None:
            private = privatize(
                result.delta, result.examples, dp,
                clip_norm=float(broadcast.extras[keys.DP_CLIP][0]),
                noise_multiplier=plan.noise_multiplier, expected_clients=plan.expected_clients,
                seed=self.seed, round_index=task.round, client_index=task.index,
            )  # fmt: skip
            result.delta = private.vector
            result.extras = {
                **result.extras,
                keys.WEIGHT: torch.tensor([private.weight], dtype=torch.float64),
                keys.UNCLIPPED: torch.tensor([private.unclipped], dtype=torch.float64),
            }
        return result

    def _poisoned(
        self, group: AttackGroup, result: ClientResult, task: ClientTask, broadcast: Broadcast
    ) -> torch.Tensor:
        assert result.delta is not None
        global_params = target = None
        if group.kind == "target_model":
            coords = result.coords
            global_params = coords.take(broadcast.params[result.params])
            if group.target == "zeros":
                target = zeros_target(result.delta)
            else:
                target = coords.take(_init_target(dims_key(self.dims), group.target_seed))
        return poison(
            group, result.delta, seed=self.seed, round_index=task.round,
            client_index=task.index, global_params=global_params, target_params=target,
        )  # fmt: skip

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        mode = fold_mode(self.section)
        if mode == "fold":
            return self.inner.fold(acc, result)
        scratch = RoundAccumulator(dict(acc.numels))
        report = self.inner.fold(scratch, result)  # its checks, weight and other aggregates
        acc.reports.append(report)
        if not report.ok:
            return report
        assert result.delta is not None
        if self.section.dp is not None:  # DP's bounded weight replaces the inner weighting
            weight = float(result.extras[keys.WEIGHT][0])
            report.log_weight = math.log(weight) if weight > 0 else -math.inf
        if mode == "keep":
            acc.keep(keys.KEPT, self._kept(result, report.log_weight))
        else:
            acc.add_plain(keys.DP_SUM, result.delta)
            acc.add_plain(keys.DP_UNCLIPPED_SUM, result.extras[keys.UNCLIPPED])
        own = delta_key(result.params)
        for name, part in scratch.sums.items():
            if name != own:
                acc.weighted(name, part.numel).merge(part)
        for name, tensor in scratch.plain.items():
            acc.add_plain(name, tensor)
        return report

    def _kept(self, result: ClientResult, log_weight: float) -> KeptUpdate:
        """The update kept whole. For SecAgg without DP the client sends w·Δ and w, with w
        its weight under the inner algorithm's weighting (DP's vector is weighted already)."""
        assert result.delta is not None
        values = {k: float(v[0]) for k, v in result.extras.items() if k.startswith("trust.")}
        vector = result.delta
        if self.section.secagg is not None and self.section.dp is None:
            weight = math.exp(log_weight)
            vector, values[keys.WEIGHT] = vector * weight, weight
        return KeptUpdate(result.client_id, vector, log_weight, result.coords, values)


# ---------------------------------------------------------------------------- server half
@dataclass(frozen=True)
class TrustServer:
    inner: ServerHalf
    step: ServerStep

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        state = self.inner.init(params)
        return dataclasses.replace(state, extras={**state.extras, **self.step.initial_extras()})

    def spec_for(self, state: ServerState, task: ClientTask) -> ModelSpec:
        return self.inner.spec_for(state, task)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        broadcast = self.inner.broadcast(state, round_index, lr)
        sent = self.step.broadcast_extras(state)
        if not sent:
            return broadcast
        return dataclasses.replace(broadcast, extras={**broadcast.extras, **sent})

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        outcome = trust_step(self.step, state, acc)
        new, metrics = self.inner.update(state, outcome.accumulator)
        extras = {**new.extras, **outcome.extras}
        return dataclasses.replace(new, extras=extras), {**metrics, "trust": outcome.metrics}


def with_trust(
    algorithm: Algorithm, section: TrustSection, step: ServerStep, seed: int,
    privacy: PrivacyPlan | None,
) -> Algorithm:  # fmt: skip
    """`algorithm` with trust's client and server halves around its own."""
    client = TrustClient(algorithm.client, section, seed, algorithm.param_dims[MAIN], privacy)
    server = TrustServer(algorithm.server, step)
    return Algorithm(algorithm.name, client, server, algorithm.param_dims)
