"""One optimizer step on one batch: CTC summed over the active exits, clipping, SpecAugment.

This is the step every trainer calls (the centralized baseline, a federated client, server
replay), so a method that changes local training changes it for all of them consistently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from fedasr.data.batching import Batch
from fedasr.data.specaugment import SpecAugmentConfig, spec_augment
from fedasr.errors import ConfigError
from fedasr.models.conformer import ConformerCTC, ModelOutput, model_device
from fedasr.train.objective import Objective

PLAIN = Objective()  # CTC over the exits, unweighted, nothing else


@dataclass
class StepResult:
    loss_sum: float  # CTC loss summed over utterances, exit-weighted (without extra terms)
    utterances: int
    frames: int
    per_exit: list[float]  # summed CTC loss of each exit
    finite: bool


def exit_weights_for(depth: int, weights: Sequence[float] | None) -> list[float]:
    """Weights of the exits that run: the configured ones, or the unweighted sum (paper)."""
    if weights is None:
        return [1.0] * depth
    if len(weights) < depth:
        raise ConfigError(f"client.exit_weights: {len(weights)} values for {depth} exits")
    return list(weights[:depth])


def ctc_losses(output: ModelOutput, batch: Batch) -> list[torch.Tensor]:
    """Summed (over utterances) CTC loss per exit; impossible alignments count as zero."""
    return [
        F.ctc_loss(
            log_probs.transpose(0, 1),
            batch.targets,
            output.lengths,
            batch.target_lens,
            blank=0,
            reduction="sum",
            zero_infinity=True,
        )
        for log_probs in output.log_probs
    ]


def make_optimizer(
    params: Iterable[nn.Parameter], name: str, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"client.optimizer: got {name!r}; allowed: 'sgd', 'adamw'")


def reset_optimizer(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Start a client from a clean optimizer without rebuilding it. Adam(W) state (step,
    moments) is zeroed in place: the same numbers as fresh state, without allocating three
    tensors per parameter for every client. Other optimizers' state is dropped and recreated
    lazily on the first step (SGD's momentum buffer starts as a copy of the first gradient)."""
    if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW):
        for state in optimizer.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor):
                    value.zero_()
    else:
        optimizer.state.clear()
    for group in optimizer.param_groups:
        group["lr"] = lr


def train_step(
    model: ConformerCTC,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    depth: int | None = None,
    grad_clip: float | None = None,
    specaugment: SpecAugmentConfig | None = None,
    generator: torch.Generator | None = None,
    objective: Objective = PLAIN,
) -> StepResult:
    """Forward, loss (mean over utterances for the gradient), backward, hooks, clip, step."""
    model.train()
    host = batch
    if specaugment is not None and generator is not None:  # masks drawn on the host: same
        augmented = spec_augment(batch.feats, batch.feat_lens, specaugment, generator)
        batch = replace(batch, feats=augmented)
    batch = batch.to(model_device(model))  # a no-op on the CPU
    objective.run("before_forward")
    output = model(batch.feats, batch.feat_lens, depth=depth)
    weights = exit_weights_for(len(output.log_probs), objective.exit_weights)
    per_exit = ctc_losses(output, batch)
    start = torch.zeros((), device=batch.feats.device)
    ctc = sum((w * loss for w, loss in zip(weights, per_exit, strict=True)), start)
    extra = objective.extra_loss(output, batch)
    # loss terms are per-utterance means; scale them like the CTC sum
    loss = ctc if extra is None else ctc + extra * batch.size
    finite = bool(torch.isfinite(loss))
    # set_to_none: parameters beyond `depth` get no gradient, so no optimizer touches them
    optimizer.zero_grad(set_to_none=True)
    if finite:
        (loss / batch.size).backward()
    # also without a backward pass: a hook that perturbed the weights must put them back
    objective.run("after_backward")
    if finite:
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        objective.run("after_step")
    return StepResult(
        loss_sum=float(ctc.detach()),
        utterances=host.size,
        frames=host.frames,  # counted on the host copy: no device round trip
        per_exit=[float(value.detach()) for value in per_exit],
        finite=finite,
    )
