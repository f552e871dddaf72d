"""Tiny ConformerCTC dims and random inputs shared by the model tests (fast on 2 CPU cores)."""

from __future__ import annotations

import torch

from fedasr.models.dims import ConformerDims

TINY = ConformerDims(
    n_mels=20,
    d_model=32,
    heads=2,
    head_size=16,
    ffn=64,
    conv_channels=32,
    conv_kernel=5,
    layers=3,
    exits=(1, 2, 3),
    vocab=29,
    dropout=0.0,
    subsampling_channels=8,
)

# Uneven per-layer widths and a projection before the exits: the shapes a sliced or
# pruned model really has.
UNEVEN = TINY.with_(heads=(2, 1, 3), ffn=(64, 40, 24), conv_channels=(32, 8, 16), proj_dim=24)


def random_inputs(
    dims: ConformerDims, lengths: list[int], seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, max(lengths), n_mels) features with zero padding, and their lengths."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.zeros(len(lengths), max(lengths), dims.n_mels)
    for i, length in enumerate(lengths):
        feats[i, :length] = torch.randn(length, dims.n_mels, generator=gen)
    return feats, torch.tensor(lengths)
