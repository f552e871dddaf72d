"""The `algorithm: {name: pruning, ...}` options, and the schedule as pure functions of the round.

Rounds before `phases.prune[0]` train the dense model. Rounds in `phases.prune` prune: the
mask is recomputed every round at the scheduled sparsity, and pruned groups stay pruned.
Rounds in `phases.refine` keep the target sparsity but recompute the mask from scratch every
`refine_every` rounds, so a pruned group whose score now beats a kept one comes back. Every
later round fine-tunes with the mask frozen. The sparsity schedule is `constant` (the target
from the first pruning round) or `step` (`delta` more every `every` rounds until the target).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Phase = Literal["dense", "prune", "refine", "finetune"]
Prunable = Literal["ffn", "attn", "conv"]
PRUNABLE_ALL: tuple[Prunable, ...] = ("ffn", "attn", "conv")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleOptions(_Strict):
    kind: Literal["constant", "step"] = "constant"
    delta: float | None = Field(None, gt=0, le=1)  # step: sparsity added at every step
    every: int = Field(1, ge=1)  # step: rounds between steps


class PhasesOptions(_Strict):
    """Round ranges [start, end), 0-based: pruning, then (optionally) refining."""

    prune: tuple[int, int] = (0, 1)
    refine: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PhasesOptions:
        start, end = self.prune
        if not 0 <= start < end:
            raise ValueError(f"prune: [{start}, {end}] needs 0 <= start < end")
        if self.refine is not None:
            r_start, r_end = self.refine
            if not end <= r_start < r_end:
                raise ValueError(
                    f"refine: [{r_start}, {r_end}] must start at or after the end of prune "
                    f"({end}) and have start < end"
                )
        return self


class PruningOptions(_Strict):
    weighting: Literal["examples", "frames", "uniform"] = "examples"
    sparsity: float = Field(0.5, ge=0, lt=1)  # share of the scored weights pruned (target)
    pattern: Literal["column", "row", "half"] = "column"
    score: Literal["magnitude", "taylor"] = "magnitude"
    allocation: Literal["uniform", "adaptive"] = "uniform"
    prunable: list[Prunable] = Field(default_factory=lambda: list(PRUNABLE_ALL), min_length=1)
    schedule: ScheduleOptions = Field(default_factory=ScheduleOptions)
    phases: PhasesOptions = Field(default_factory=PhasesOptions)
    refine_every: int = Field(1, ge=1)
    # client Taylor scores: the server keeps score = m * old + (1 - m) * this round's mean
    score_momentum: float = Field(0.5, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> PruningOptions:
        if self.score == "taylor" and self.phases.prune[0] < 1:
            raise ValueError(
                "score: taylor scores come from clients' training, so phases.prune must start "
                f"after at least one dense round (got phases.prune={list(self.phases.prune)})"
            )
        schedule = self.schedule
        if schedule.kind == "step":
            if schedule.delta is None:
                raise ValueError("schedule.delta: required by schedule.kind=step")
            start, end = self.phases.prune
            steps = math.ceil(round(self.sparsity / schedule.delta, 9))  # to reach the target
            last = start + (int(steps) - 1) * schedule.every
            if last >= end:
                raise ValueError(
                    f"schedule: {int(steps)} steps of {schedule.delta} every {schedule.every} "
                    f"round(s) reach sparsity {self.sparsity} at round {last}, after "
                    f"phases.prune ends ({end}); widen phases.prune or take larger steps"
                )
        return self


def phase(options: PruningOptions, round_index: int) -> Phase:
    start, end = options.phases.prune
    if round_index < start:
        return "dense"
    if round_index < end:
        return "prune"
    refine = options.phases.refine
    if refine is not None and refine[0] <= round_index < refine[1]:
        return "refine"
    return "finetune"


def sparsity_at(options: PruningOptions, round_index: int) -> float:
    """The global sparsity of the mask that round `round_index` trains."""
    start = options.phases.prune[0]
    if round_index < start:
        return 0.0
    schedule = options.schedule
    if schedule.kind == "constant" or schedule.delta is None:
        return options.sparsity
    steps = 1 + (round_index - start) // schedule.every
    return min(options.sparsity, steps * schedule.delta)


def recompute(options: PruningOptions, round_index: int) -> Literal["none", "prune", "refine"]:
    """How round `round_index`'s mask is made from the previous one."""
    current = phase(options, round_index)
    if current == "prune":
        return "prune"
    if current == "refine":
        assert options.phases.refine is not None
        since = round_index - options.phases.refine[0]
        return "refine" if since % options.refine_every == 0 else "none"
    return "none"
