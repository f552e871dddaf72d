"""Variational (weight) noise: a step-hooks piece of the local objective.

At every local step, Gaussian noise N(0, std^2) is added to the trained weights before the
forward pass and the clean weights are put back right after the backward pass, so the gradient
is taken at the noisy point but the optimizer updates (and the server receives) clean weights
(Guliani et al. 2021, shared/ALGORITHMS.md §2; Graves 2011). With `scale="rms"` each tensor's
standard deviation is `std` times that tensor's root-mean-square value.

Determinism: the noise is drawn on the CPU from its own generator, seeded from the client's
seed (itself a function of the run seed, the round and the client) and a stream tag of its own,
one draw per step in step order. So it is the same on every executor and device, and switching
noise on changes no other random stream (data order, SpecAugment masks, dropout).

The piece goes first among the hooks: its after-backward restore runs before any other
after-backward hook (a proximal gradient must see the clean weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import nn

from fedasr.train.objective import Objective, StepHooks

if TYPE_CHECKING:
    from fedasr.config import VariationalNoiseSection

NOISE_STREAM = 0x7A21  # tags the noise generator's seed apart from the client's other streams
NoiseScale = Literal["absolute", "rms"]


@dataclass(frozen=True)
class WeightNoise:
    std: float
    scale: NoiseScale = "absolute"

    def hooks(self, params: Sequence[nn.Parameter], generator: torch.Generator) -> StepHooks:
        """Noise on the parameters that train (`requires_grad`), drawn from `generator`."""
        trained = [p for p in params if p.requires_grad]
        clean = [torch.empty_like(p) for p in trained]  # once per client, reused every step
        sizes = [p.numel() for p in trained]
        std, rms = self.std, self.scale == "rms"

        @torch.no_grad()
        def add_noise() -> None:
            # one draw per step, in a fixed order: the same numbers whatever the device
            draws = torch.randn(sum(sizes), generator=generator).split(sizes)
            for param, keep, draw in zip(trained, clean, draws, strict=True):
                keep.copy_(param)
                sigma = std * param.pow(2).mean().sqrt() if rms else std
                param.add_(draw.view_as(param).to(param.device) * sigma)

        @torch.no_grad()
        def restore_clean() -> None:
            for param, keep in zip(trained, clean, strict=True):
                param.copy_(keep)

        return StepHooks(before_forward=add_noise, after_backward=restore_clean)


def noise_in_round(section: VariationalNoiseSection, round_number: int) -> WeightNoise | None:
    """The configured noise in round (or epoch) `round_number`, counted from 1; None when
    off (std = 0, the default) or before `start_round`."""
    if section.std == 0 or round_number < section.start_round:
        return None
    return WeightNoise(section.std, section.scale)


def noise_generator(seed: int) -> torch.Generator:
    """The noise stream of a client (or of a centralized epoch) with seed `seed`."""
    state = np.random.SeedSequence([seed, NOISE_STREAM]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def with_noise(
    objective: Objective, noise: WeightNoise | None, params: Sequence[nn.Parameter], seed: int
) -> Objective:
    """`objective` with the noise hooks in front, or unchanged without noise."""
    if noise is None:
        return objective
    hooks = noise.hooks(params, noise_generator(seed))
    return replace(objective, hooks=(hooks, *objective.hooks))
