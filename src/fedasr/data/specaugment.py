"""SpecAugment (Park et al. 2019) without time warping: frequency and time masks, train only."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SpecAugmentConfig:
    freq_masks: int = 2
    freq_width: int = 10
    time_masks: int = 2
    time_width_ratio: float = 0.05  # a time mask covers at most this share of the utterance

    @property
    def enabled(self) -> bool:
        return self.freq_masks > 0 or self.time_masks > 0


def spec_augment(
    feats: torch.Tensor, lengths: torch.Tensor, config: SpecAugmentConfig, gen: torch.Generator
) -> torch.Tensor:
    """Masks (to zero = the normalized mean) drawn from `gen`, so a seed reproduces them."""
    if not config.enabled:
        return feats
    out = feats.clone()
    batch, _, dims = out.shape
    for b in range(batch):
        length = int(lengths[b])
        for _ in range(config.freq_masks):
            width = int(torch.randint(0, config.freq_width + 1, (1,), generator=gen))
            start = int(torch.randint(0, max(dims - width, 0) + 1, (1,), generator=gen))
            out[b, :length, start : start + width] = 0.0
        max_time = int(config.time_width_ratio * length)
        for _ in range(config.time_masks):
            width = int(torch.randint(0, max_time + 1, (1,), generator=gen))
            start = int(torch.randint(0, max(length - width, 0) + 1, (1,), generator=gen))
            out[b, start : start + width, :] = 0.0
    return out
