"""Pruning masks by hand: uniform and adaptive allocation, monotone pruning, nested tier masks,
magnitude scores (fedasr.algorithms.pruning.masks)."""

from __future__ import annotations

import pytest
import torch

from fedasr.algorithms.pruning.masks import (
    magnitude_scores,
    nested,
    normalised,
    pruned_share,
    select,
)
from fedasr.algorithms.pruning.structure import KINDS, build_structure
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout

# one layer: ffn 4 units, 2 heads of 4, 4 conv channels; d_model 8
DIMS = ConformerDims(
    n_mels=16, d_model=8, heads=2, head_size=4, ffn=4, conv_channels=4, conv_kernel=3,
    layers=1, exits=(1,), vocab=5, subsampling_channels=2, dropout=0.0,
)  # fmt: skip
FFN_ONLY = ("ffn1", "ffn2")


def keep_of(*bits: int) -> torch.Tensor:
    return torch.tensor(bits, dtype=torch.bool)


def test_blocks_and_groups_of_one_layer() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    assert [(b.name, b.groups) for b in structure.blocks] == [
        ("layers.0.ffn1", 4), ("layers.0.attn", 2), ("layers.0.conv", 4), ("layers.0.ffn2", 4),
    ]  # fmt: skip
    assert [b.first for b in structure.blocks] == [0, 4, 6, 10]
    # column weights: an ffn unit's up row + bias, a head's q/k/v rows + biases, a channel's
    # GLU value and gate rows + biases
    assert structure.group_weights().tolist() == [9.0] * 4 + [108.0] * 2 + [18.0] * 4 + [9.0] * 4
    half = build_structure(DIMS, "half", KINDS)
    assert half.groups == 28 and half.group_weights()[0] == 4  # half of an up row


def test_uniform_prunes_the_same_share_of_every_block_lowest_first() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    scores = torch.tensor([4, 1, 3, 2, 5, 6, 1, 1, 9, 0, 2, 8, 1, 7], dtype=torch.float64)
    keep = select(structure, scores, 0.5, "uniform")
    # ffn1 prunes its units 1 and 3, attn head 0, conv the lowest two of [1, 1, 9, 0]: ids 9
    # and 6 (a tie goes to the lower id), ffn2 ids 12 and 10
    expected = keep_of(1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1)
    assert torch.equal(keep, expected)
    assert pruned_share(structure, keep) == 0.5


def test_uniform_keeps_at_least_one_group_per_block() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    keep = select(structure, torch.arange(14.0), 0.9, "uniform")
    for block in structure.blocks:
        kept = keep[block.first : block.first + block.groups]
        assert int(kept.sum()) == 1 and bool(kept[-1])  # the highest score survives


def test_adaptive_uses_one_threshold_on_normalised_scores() -> None:
    structure = build_structure(DIMS, "column", FFN_ONLY)
    # ffn1: four equal scores; ffn2: one dominant unit. Both blocks have mean 1.
    scores = torch.tensor([1, 1, 1, 1, 0.1, 0.2, 0.3, 3.4], dtype=torch.float64)
    assert torch.allclose(normalised(structure, scores), scores)
    keep = select(structure, scores, 0.5, "adaptive")
    # prune 4 of 8 equal-weight groups globally: ffn2's three weak units, then the first of
    # ffn1's ties; every block keeps its best group
    assert torch.equal(keep, keep_of(0, 1, 1, 1, 0, 0, 0, 1))
    uniform = select(structure, scores, 0.5, "uniform")
    assert torch.equal(uniform, keep_of(0, 0, 1, 1, 0, 0, 1, 1))
    assert pruned_share(structure, keep) == pruned_share(structure, uniform) == 0.5


def test_adaptive_meets_the_target_in_weights_across_block_sizes() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    scores = torch.rand(14, generator=torch.Generator().manual_seed(0)).double() + 0.1
    weights = structure.group_weights()
    for target in (0.25, 0.5):
        keep = select(structure, scores, target, "adaptive")
        # the closest achievable share: within half the largest group's weight of the target
        assert (
            abs(pruned_share(structure, keep) - target) <= float(weights.max() / weights.sum()) / 2
        )


def test_pruning_is_monotone_within_allowed() -> None:
    structure = build_structure(DIMS, "column", FFN_ONLY)
    first = select(structure, torch.tensor([1.0, 2, 3, 4, 1, 2, 3, 4]), 0.25, "uniform")
    assert torch.equal(first, keep_of(0, 1, 1, 1, 0, 1, 1, 1))
    # the scores flip, but a pruned group stays pruned while pruning (allowed = last mask)
    flipped = torch.tensor([9.0, 1, 2, 3, 9, 1, 2, 3])
    second = select(structure, flipped, 0.5, "uniform", allowed=first)
    assert torch.equal(second, keep_of(0, 0, 1, 1, 0, 0, 1, 1))
    # refining (no allowed) brings the high scorer back
    assert torch.equal(select(structure, flipped, 0.5, "uniform"), keep_of(1, 0, 0, 1, 1, 0, 0, 1))


def test_nested_tier_masks_are_subsets_of_the_denser_ones() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    scores = torch.rand(14, generator=torch.Generator().manual_seed(1)).double()
    base = select(structure, scores, 0.25, "uniform")
    for allocation in ("uniform", "adaptive"):
        masks = nested(structure, scores, base, {"low": 0.75, "mid": 0.5}, allocation)
        assert bool((masks["mid"] <= base).all()) and bool((masks["low"] <= masks["mid"]).all())
        assert pruned_share(structure, masks["low"]) > pruned_share(structure, masks["mid"])


def test_magnitude_scores_are_the_l2_norms_of_the_groups() -> None:
    structure = build_structure(DIMS, "row", FFN_ONLY)
    layout = ParamLayout.for_dims(DIMS)
    values = torch.zeros(layout.numel)
    views = layout.views(values)
    views["layers.0.ffn1.down.weight"][:, 2] = torch.tensor([3.0, 4, 0, 0, 0, 0, 0, 0])
    views["layers.0.ffn2.down.weight"][0, 0] = -2.0
    views["layers.0.ffn1.up.weight"][2, :] = 100.0  # a column weight: not scored under "row"
    scores = magnitude_scores(structure, values)
    assert scores.tolist() == pytest.approx([0, 0, 5, 0, 2, 0, 0, 0])
