"""The server side of trust: from a round's accumulator to the pseudo-gradient that the inner
algorithm's server half applies, with what the round's record says about it.

    fold    nothing to do: the inner half aggregates as always (attacks only, or trust: {})
    keep    robust aggregation of the updates kept whole (trust/robust.py), in client-index
            order; or SecAgg (trust/secure.py) over them, then plain or private aggregation
    sum     DP: the server's half of DP-FedAvg on the plain sums (trust/privacy.py)

The pseudo-gradient replaces the accumulator's `delta` aggregate (one vector at weight 1, so
the inner half's mean of it is exactly it); every other aggregate is left as it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from fedasr.algorithms.aggregate import WeightedSum
from fedasr.algorithms.base import ClientReport, KeptUpdate, RoundAccumulator, ServerState
from fedasr.algorithms.coordinates import Span
from fedasr.algorithms.fedavg import delta_key
from fedasr.algorithms.spec import MAIN
from fedasr.trust import keys
from fedasr.trust.privacy import PrivacyPlan, private_step
from fedasr.trust.robust import robust_aggregate, weights_from_log
from fedasr.trust.schema import TrustSection
from fedasr.trust.secagg import SecAggAbort
from fedasr.trust.secure import secure_metrics, secure_pseudo_gradient, secure_round

FoldMode = Literal["fold", "keep", "sum"]


def needs_individual_updates(section: TrustSection) -> bool:
    return section.robust.kind != "mean" or section.robust.clip is not None


def fold_mode(section: TrustSection) -> FoldMode:
    if section.secagg is not None or needs_individual_updates(section):
        return "keep"
    return "sum" if section.dp is not None else "fold"


@dataclass(frozen=True)
class ServerStep:
    """Everything the server side of trust needs, fixed when the run is built."""

    section: TrustSection
    seed: int
    ids: tuple[str, ...]  # the registered clients: a client's index is its position here
    numel: int  # coordinates of the main parameter set
    privacy: PrivacyPlan | None = None

    def initial_extras(self) -> dict[str, torch.Tensor]:
        return {} if self.privacy is None else self.privacy.initial_extras()

    def broadcast_extras(self, state: ServerState) -> dict[str, torch.Tensor]:
        """What the clients need from the server state: this round's DP clip bound."""
        if self.privacy is None:
            return {}
        return {keys.DP_CLIP: state.extras[keys.DP_CLIP]}

    def index_of(self) -> dict[str, int]:
        return {client: index for index, client in enumerate(self.ids)}


@dataclass
class StepOutcome:
    accumulator: RoundAccumulator  # what the inner server half aggregates
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # trust's state to store
    metrics: dict[str, Any] = field(default_factory=dict)  # the round record's `trust` entry


def trust_step(step: ServerStep, state: ServerState, acc: RoundAccumulator) -> StepOutcome:
    metrics: dict[str, Any] = {"attacked": attacked(acc.reports, step.section)}
    mode = fold_mode(step.section)
    if mode == "fold":
        return StepOutcome(acc, metrics=metrics)
    if mode == "sum":
        assert step.privacy is not None
        update_sum = acc.plain[keys.DP_SUM]
        unclipped = float(acc.plain[keys.DP_UNCLIPPED_SUM][0])
        gradient, extras, dp_metrics = private_step(
            step.privacy, state.extras, update_sum, unclipped, step.seed, state.round
        )
        metrics["dp"] = dp_metrics
    else:
        kept = in_client_order(acc.kept.get(keys.KEPT, []), step.index_of())
        if not kept:
            return StepOutcome(acc, metrics=metrics)
        if step.section.secagg is None:
            gradient, extras = _robust(step, state, kept, metrics)
        else:
            try:
                gradient, extras = _secure(step, state, acc, kept, metrics)
            except SecAggAbort as err:  # too few clients left to unmask: nothing is released
                metrics["secagg"] = {"aborted": str(err)}
                return StepOutcome(acc, metrics=metrics)  # no update: the model stays
    return StepOutcome(with_pseudo_gradient(acc, gradient), extras, metrics)


def _robust(
    step: ServerStep, state: ServerState, kept: list[KeptUpdate], metrics: dict[str, Any]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    check_whole(kept, step.numel, "trust.robust")
    section = step.section.robust
    tracked = state.extras.get(keys.ROBUST_CLIP)
    result = robust_aggregate(
        [u.vector for u in kept],
        weights_from_log([u.log_weight for u in kept]),
        section,
        clip_state=None if tracked is None else float(tracked[0]),
    )
    metrics["robust"] = {
        "kind": section.kind,
        "clip_bound": result.clip_bound,
        "byzantine": result.byzantine,
        "rejected": [kept[o.position].client_id for o in result.outcomes if o.status == "rejected"],
        "down_weighted": {
            kept[o.position].client_id: round(o.factor, 4)
            for o in result.outcomes
            if o.status == "down_weighted"
        },
    }
    extras = {}
    if result.next_clip_bound is not None:
        extras[keys.ROBUST_CLIP] = torch.tensor([result.next_clip_bound], dtype=torch.float64)
    return result.pseudo_gradient, extras


def _secure(
    step: ServerStep,
    state: ServerState,
    acc: RoundAccumulator,
    kept: list[KeptUpdate],
    metrics: dict[str, Any],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    check_whole(kept, step.numel, "trust.secagg")
    section = step.section.secagg
    assert section is not None
    dropped = [report.client_id for report in acc.reports if not report.ok]
    run = secure_round(
        kept, step.index_of(), dropped, section, step.section.dp, step.numel, step.seed,
        state.round,
    )  # fmt: skip
    metrics["secagg"] = secure_metrics(run, step.numel, section.degree)
    total = run.result  # from here on only the sum exists
    if step.privacy is None:
        return secure_pseudo_gradient(total), {}
    unclipped = total.values.get("unclipped")
    gradient, extras, dp_metrics = private_step(
        step.privacy, state.extras, torch.from_numpy(total.values["update"]),
        0.0 if unclipped is None else float(unclipped[0]), step.seed, state.round,
    )  # fmt: skip
    metrics["dp"] = dp_metrics
    return gradient, extras


def in_client_order(kept: Sequence[KeptUpdate], index_of: dict[str, int]) -> list[KeptUpdate]:
    """Kept updates sorted by client index: the order does not depend on the executor."""
    return sorted(kept, key=lambda update: index_of.get(update.client_id, math.inf))


def check_whole(kept: Sequence[KeptUpdate], numel: int, key: str) -> None:
    """Robust and secure aggregation compare or sum whole updates of the main parameter set."""
    for update in kept:
        where = update.where
        if not (isinstance(where, Span) and where.start == 0 and where.stop == numel):
            raise ValueError(
                f"{key}: client {update.client_id} sent {where} of the {numel} coordinates; "
                "robust and secure aggregation need every client to send the whole model "
                "(no early-exit prefixes, frozen front-ends or sub-models)"
            )


def with_pseudo_gradient(acc: RoundAccumulator, gradient: torch.Tensor) -> RoundAccumulator:
    """`acc` with its `delta` aggregate replaced by `gradient` at weight 1."""
    total = WeightedSum(gradient.numel())
    total.add(gradient, 0.0, Span(0, gradient.numel()))
    sums = {**acc.sums, delta_key(MAIN): total}
    return RoundAccumulator(dict(acc.numels), sums, dict(acc.plain), acc.reports, acc.kept)


def attacked(reports: Sequence[ClientReport], section: TrustSection) -> dict[str, str]:
    """Client id -> the attack it played this round (from the clients' reports)."""
    out: dict[str, str] = {}
    for report in reports:
        group = report.stats.get(keys.ATTACK_STAT)
        if group is not None:
            out[report.client_id] = section.attacks[int(group)].kind
    return out
