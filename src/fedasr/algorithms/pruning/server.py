"""The server half of federated pruning: FedAvg on the dense parameters, plus the masks.

Everything is a pure function of the server state. `ServerState.extras` holds the masks, so
checkpoints carry them and a resumed run continues mid-schedule bit for bit:

    pruning.keep         (groups,) bool: the global mask (what the evaluated model keeps)
    pruning.keep.TIER    (groups,) bool: a device tier's nested mask (tiers with a sparsity)
    pruning.scores       (groups,) float64: the clients' Taylor scores, averaged over rounds
    pruning.seen         (groups,) bool: groups some client has scored
    pruning.stash        (numel,) float32: the last values of the coordinates the mask zeroes
    pruning.round        (1,) int64: the round the masks were made for

The global parameters hold zeros at pruned coordinates, so the evaluated and exported model is
the pruned model (exactly the physically smaller one). A pruned coordinate's value waits in the
stash: refining restores it if its group comes back, and magnitude scores read it.
After every round the server steps the dense parameters (FedAvgServer: a coordinate nobody
held keeps its value and its optimizer state) and makes the next round's masks. A round that
was skipped (too few clients) makes none, so `current` first brings the masks up to the
state's round: the schedule never slips.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from fedasr.algorithms.base import Broadcast, ClientTask, RoundAccumulator, ServerState
from fedasr.algorithms.fedavg import FedAvgServer
from fedasr.algorithms.pruning.client import GROUPS, SCORES
from fedasr.algorithms.pruning.masks import magnitude_scores, nested, pruned_share, select
from fedasr.algorithms.pruning.plan import PruningOptions, phase, recompute, sparsity_at
from fedasr.algorithms.pruning.structure import Structure
from fedasr.algorithms.pruning.view import ClientView, client_view
from fedasr.algorithms.spec import MAIN, ModelSpec

KEEP, SCORE, SEEN, STASH = "pruning.keep", "pruning.scores", "pruning.seen", "pruning.stash"
MADE_FOR = "pruning.round"  # the round the stored masks were made for
GLOBAL = "pruned"  # the coordinates name of the global mask; a tier's is "pruned.TIER"


@dataclass(frozen=True)
class PruningServer:
    fedavg: FedAvgServer
    options: PruningOptions
    structure: Structure
    tiers: dict[str, float]  # device tier -> its sparsity budget
    _views: dict[bytes, ClientView] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ the server half
    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        state = self.fedavg.init(params)
        groups = self.structure.groups
        extras = {
            KEEP: torch.ones(groups, dtype=torch.bool),
            SCORE: torch.zeros(groups, dtype=torch.float64),
            SEEN: torch.zeros(groups, dtype=torch.bool),
            STASH: torch.zeros(self.structure.numel),
        }
        state, _ = self._next_masks(replace(state, extras={**state.extras, **extras}), 0)
        return state

    def current(self, state: ServerState) -> ServerState:
        """`state` with the masks of its round (made now for rounds that were skipped)."""
        made_for = int(state.extras[MADE_FOR][0])
        while made_for < state.round:
            made_for += 1
            state, _ = self._next_masks(state, made_for)
        return state

    def spec_for(self, state: ServerState, task: ClientTask) -> ModelSpec:
        state = self.current(state)
        name = _tier_name(task.tier) if task.tier in self.tiers else GLOBAL
        keep = self.masks(state)[name]
        if bool(keep.all()):
            return ModelSpec(self.fedavg.dims, depth=task.depth)
        return ModelSpec(self.view(keep).dims, coords=name, depth=task.depth)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        state = self.current(state)
        coords: dict[str, torch.Tensor] = {}
        for name, keep in self.masks(state).items():
            if not bool(keep.all()):
                view = self.view(keep)
                coords[name], coords[name + GROUPS] = view.index, view.groups
        return replace(self.fedavg.broadcast(state, round_index, lr), coords=coords)

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        state = self.current(state)  # what the round's clients were given
        trained = self.masks(state)
        state, metrics = self.fedavg.update(state, acc)
        state = replace(state, extras=self._remember_scores(state.extras, acc))
        state, changes = self._next_masks(state, state.round + 1)
        metrics["pruning"] = {**self._describe(state.round, trained), **changes}
        return state, metrics

    # ------------------------------------------------------------------ masks
    def masks(self, state: ServerState) -> dict[str, torch.Tensor]:
        """The global mask and every tier's, by coordinates name."""
        masks = {GLOBAL: state.extras[KEEP]}
        for tier in self.tiers:
            masks[_tier_name(tier)] = state.extras.get(KEEP + "." + tier, state.extras[KEEP])
        return masks

    def view(self, keep: torch.Tensor) -> ClientView:
        """The client's model of a mask (memoized by the mask's content: a pure function)."""
        key = keep.numpy().tobytes()
        if key not in self._views:
            if len(self._views) > 16:
                self._views.clear()
            self._views[key] = client_view(self.structure, keep)
        return self._views[key]

    def scores(self, state: ServerState) -> torch.Tensor:
        """(groups,) importance: weight magnitude of the dense values (a pruned group's from
        the stash), or the clients' remembered Taylor scores (+inf for a group never scored:
        kept until some client has scored it)."""
        if self.options.score == "magnitude":
            dense = state.params[MAIN] + state.extras[STASH]
            return magnitude_scores(self.structure, dense)
        scores = state.extras[SCORE].clone()
        scores[~state.extras[SEEN]] = float("inf")
        return scores

    def _next_masks(
        self, state: ServerState, round_index: int
    ) -> tuple[ServerState, dict[str, Any]]:
        """The masks round `round_index` trains, with the parameters zeroed and restored."""
        options, extras = self.options, dict(state.extras)
        how = recompute(options, round_index)
        old = extras[KEEP]
        keep, scores = old, None
        if how != "none":
            scores = self.scores(state)
            allowed = old if how == "prune" else None
            sparsity = sparsity_at(options, round_index)
            keep = select(self.structure, scores, sparsity, options.allocation, allowed)
        extras[KEEP], extras[MADE_FOR] = keep, torch.tensor([round_index])
        if self.tiers and phase(options, round_index) != "finetune":
            scores = self.scores(state) if scores is None else scores
            sparsity = sparsity_at(options, round_index)
            budgets = {tier: max(sparsity, budget) for tier, budget in self.tiers.items()}
            for tier, mask in nested(
                self.structure, scores, keep, budgets, options.allocation
            ).items():
                extras[KEEP + "." + tier] = mask
        params = self._rezero(state.params[MAIN], extras, old, keep)
        changes = {
            "revived": int((keep & ~old).sum()),
            "newly_pruned": int((old & ~keep).sum()),
        }
        return replace(state, params={**state.params, MAIN: params}, extras=extras), changes

    def _rezero(
        self, params: torch.Tensor, extras: dict[str, torch.Tensor], old: torch.Tensor,
        new: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """Zero the coordinates `new` prunes (their values to the stash); restore those it
        brings back."""
        if torch.equal(old, new):
            return params
        zero_old, zero_new = self.structure.zero_mask(old), self.structure.zero_mask(new)
        params, stash = params.clone(), extras[STASH].clone()
        pruned, back = zero_new & ~zero_old, zero_old & ~zero_new
        stash[pruned], params[pruned] = params[pruned], 0.0
        params[back], stash[back] = stash[back], 0.0
        extras[STASH] = stash
        return params

    def _remember_scores(
        self, extras: dict[str, torch.Tensor], acc: RoundAccumulator
    ) -> dict[str, torch.Tensor]:
        """Blend this round's mean client scores into the remembered ones, after putting them
        on the remembered scale (`_on_remembered_scale`): Taylor scores shrink with the loss,
        and a pruned group's last score, kept from an earlier round, must stay comparable
        with the kept groups' fresh ones."""
        part = acc.sums.get(SCORES)
        if part is None or part.total is None:
            return extras
        mean, covered = part.mean()
        old, seen = extras[SCORE], extras[SEEN]
        relative = _on_remembered_scale(self.structure, mean.double(), covered, old, seen)
        momentum = self.options.score_momentum
        blended = torch.where(seen, momentum * old + (1 - momentum) * relative, relative)
        return {**extras, SCORE: torch.where(covered, blended, old), SEEN: seen | covered}

    def _describe(self, round_index: int, masks: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What the round's clients trained: its phase, and each mask's sparsity and model."""
        described: dict[str, Any] = {"phase": phase(self.options, round_index)}
        for name, keep in masks.items():
            view = self.view(keep) if not bool(keep.all()) else None
            full = self.structure.numel
            described[name] = {
                "sparsity": pruned_share(self.structure, keep),
                "client_params": view.params if view is not None else full,
                "held_params": view.held if view is not None else full,
            }
        return described


def _on_remembered_scale(
    structure: Structure,
    fresh: torch.Tensor,
    covered: torch.Tensor,
    old: torch.Tensor,
    seen: torch.Tensor,
) -> torch.Tensor:
    """This round's scores, block by block, multiplied so that the groups scored now *and*
    before keep their remembered mean. Dividing by the mean of the groups scored now would be
    biased once a block is pruned: only its kept (high-scoring) groups are scored, so their
    mean is larger than the whole block's was, every kept group's relative score falls, and
    pruned groups' remembered scores would win back columns for no reason. A block with no
    group scored before is divided by the mean of its covered scores (the first scores are
    relative); a block without a positive mean is left as it is."""
    out = fresh.clone()
    for block in structure.blocks:
        part = slice(block.first, block.first + block.groups)
        held = covered[part]
        if not bool(held.any()):
            continue
        both = held & seen[part]
        anchor = float(fresh[part][both].mean()) if bool(both.any()) else 0.0
        if anchor > 0:
            out[part] = fresh[part] * (float(old[part][both].mean()) / anchor)
            continue
        mean = float(fresh[part][held].mean())
        if mean > 0:
            out[part] = fresh[part] / mean
    return out


def _tier_name(tier: str | None) -> str:
    return f"{GLOBAL}.{tier}"
