"""The one local-training loop: epochs of seeded, length-bucketed batches, one `train_step`
each. A federated client, server replay and the centralized trainer all run it, so a change
to local training (an objective piece, a step hook, cost counting) reaches all three.

The caller owns the random streams (`rng` orders the batches, `generator` draws SpecAugment
masks), the optimizer and the model; this loop only iterates, counts and stops.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from fedasr.data.batching import SpeechData, batch_rows
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.errors import FedasrError
from fedasr.models.conformer import ConformerCTC
from fedasr.models.flops import batch_flops
from fedasr.train.objective import Objective
from fedasr.train.step import PLAIN, train_step

FeatureTransform = Callable[[int, np.ndarray], np.ndarray]


class NonFiniteLoss(FedasrError):
    """A step's loss was NaN or infinite (the step was skipped)."""


@dataclass
class LocalData:
    """A client's data for one round, after its data conditions (corruptions, pseudo-labels)."""

    rows: np.ndarray
    targets: dict[int, np.ndarray] | None  # None: the split's own transcripts
    transform: FeatureTransform | None = None
    flops: float = 0.0  # compute spent preparing it (pseudo-labelling forward passes)
    report: dict[str, float] = field(default_factory=dict)


@dataclass
class LocalStats:
    steps: int = 0
    examples: int = 0
    frames: int = 0
    loss_sum: float = 0.0  # summed (exit-weighted) CTC loss over the steps
    flops: float = 0.0
    audio_seconds: float = 0.0
    skipped: int = 0  # steps whose loss was not finite (no update)
    stopped: bool = False  # `should_stop` ended the loop early


@dataclass(frozen=True)
class LocalPlan:
    max_frames: int  # padded frames per batch
    epochs: int | None = 1  # passes over the rows; None: as many as `max_steps` needs
    max_steps: int | None = None
    depth: int | None = None  # train up to this exit
    grad_clip: float | None = None
    specaugment: SpecAugmentConfig | None = None
    skip_nonfinite: bool = False  # False: a non-finite loss raises NonFiniteLoss
    # FLOPs: no backward pass through a front-end without gradients (False: always count it)
    frozen_frontend_saves: bool = True


def local_train(
    model: ConformerCTC,
    optimizer: torch.optim.Optimizer,
    data: SpeechData,
    rows: Sequence[int] | np.ndarray,
    plan: LocalPlan,
    *,
    rng: np.random.Generator,
    generator: torch.Generator,
    objective: Objective = PLAIN,
    targets: Mapping[int, np.ndarray] | None = None,
    transform: FeatureTransform | None = None,
    should_stop: Callable[[LocalStats], bool] | None = None,
    stats: LocalStats | None = None,
) -> LocalStats:
    stats = stats if stats is not None else LocalStats()
    frozen = plan.frozen_frontend_saves and not any(
        p.requires_grad for p in model.frontend.parameters()
    )
    epochs = itertools.count() if plan.epochs is None else range(plan.epochs)
    for _ in epochs:
        for chosen in batch_rows(rows, data.lengths, plan.max_frames, rng):
            batch = data.collate(chosen, targets, transform)
            result = train_step(
                model, optimizer, batch, depth=plan.depth, grad_clip=plan.grad_clip,
                specaugment=plan.specaugment, generator=generator, objective=objective,
            )  # fmt: skip
            if not result.finite and not plan.skip_nonfinite:
                raise NonFiniteLoss(f"non-finite loss at step {stats.steps}")
            padded = int(batch.feats.shape[1])
            stats.steps += 1
            stats.skipped += not result.finite
            stats.examples += result.utterances
            stats.frames += result.frames
            stats.loss_sum += result.loss_sum
            stats.audio_seconds += batch.audio_seconds
            stats.flops += batch_flops(
                model.dims, batch.size, padded, plan.depth, train=True, frozen_frontend=frozen
            )
            if should_stop is not None and should_stop(stats):
                stats.stopped = True
                return stats
            if plan.max_steps is not None and stats.steps >= plan.max_steps:
                return stats
    return stats
