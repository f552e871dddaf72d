"""The physically smaller client model: its outputs equal the dense model's with the pruned
weights zeroed, its coordinates and groups map onto the full model's, and an update lands in
exactly the kept coordinates (fedasr.algorithms.pruning.structure / view, algorithms.spec)."""

from __future__ import annotations

import pytest
import torch

from fedasr.algorithms.aggregate import WeightedSum
from fedasr.algorithms.pruning.masks import select
from fedasr.algorithms.pruning.structure import KINDS, build_structure
from fedasr.algorithms.pruning.view import client_view
from fedasr.algorithms.spec import ModelSpec, held_coordinates
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel

DIMS = ConformerDims(
    n_mels=16, d_model=16, heads=4, head_size=4, ffn=24, conv_channels=12, conv_kernel=3,
    layers=3, exits=(1, 2, 3), vocab=7, subsampling_channels=4, dropout=0.0,
)  # fmt: skip


def random_keep(pattern: str, allocation: str, sparsity: float, seed: int = 0) -> torch.Tensor:
    structure = build_structure(DIMS, pattern, KINDS)
    scores = torch.rand(structure.groups, generator=torch.Generator().manual_seed(seed))
    return select(structure, scores.double(), sparsity, allocation)


def outputs(model: FlatModel, depth: int | None = None) -> list[torch.Tensor]:
    feats = torch.randn(3, 60, 16, generator=torch.Generator().manual_seed(5))
    lengths = torch.tensor([60, 45, 30])
    model.module.eval()
    with torch.no_grad():
        return model.module(feats, lengths, depth=depth).log_probs


def test_unit_coordinates_cover_the_prunable_modules_once() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    counts = torch.zeros(structure.numel, dtype=torch.int64)
    for block in structure.blocks:
        counts.index_add_(
            0, block.unit_coords.reshape(-1), torch.ones(block.unit_coords.numel()).long()
        )
    assert int(counts.max()) == 1  # no coordinate belongs to two units
    views = FlatModel(DIMS).layout.views(torch.arange(structure.numel))
    prunable = [
        f"layers.{i}.{m}.{p}"
        for i in range(3)
        for m, params in (
            ("ffn1", ("up.weight", "up.bias", "down.weight")),
            ("ffn2", ("up.weight", "up.bias", "down.weight")),
            ("attn", ("qkv.weight", "qkv.bias", "out.weight")),
            ("conv", ("pw_in.weight", "pw_in.bias", "dw.weight", "dw.bias", "dw_norm.weight",
                      "dw_norm.bias", "pw_out.weight")),
        )
        for p in params
    ]  # fmt: skip
    expected = torch.cat([views[name].reshape(-1) for name in prunable])
    assert torch.equal(torch.nonzero(counts).reshape(-1), expected.sort().values)


@pytest.mark.parametrize("pattern", ["column", "row", "half"])
@pytest.mark.parametrize("allocation", ["uniform", "adaptive"])
def test_the_smaller_model_computes_what_the_zeroed_dense_model_computes(
    pattern: str, allocation: str
) -> None:
    structure = build_structure(DIMS, pattern, KINDS)
    keep = random_keep(pattern, allocation, 0.6)
    view = client_view(structure, keep)
    dense = FlatModel(DIMS, seed=3)
    zeroed = dense.flat.clone().masked_fill_(structure.zero_mask(keep), 0.0)
    dense.load(zeroed)
    small = FlatModel(view.dims)
    small.load(zeroed.index_select(0, view.index.clamp(min=0)).masked_fill_(view.index < 0, 0.0))
    assert view.params < dense.layout.numel  # physically smaller
    if pattern != "half":  # whole units go: fewer heads and ffn units than the full model
        assert sum(view.dims.per_layer("heads")) < 12
        assert sum(view.dims.per_layer("ffn")) < 72
    for depth in (1, 3):
        for big, little in zip(outputs(dense, depth), outputs(small, depth), strict=True):
            assert torch.allclose(big, little, atol=1e-5), float((big - little).abs().max())


def test_ffn1_and_ffn2_share_a_width_padded_with_held_zeros() -> None:
    structure = build_structure(DIMS, "column", ("ffn1", "ffn2"))
    keep = torch.ones(structure.groups, dtype=torch.bool)
    keep[0:20] = False  # layer 0 ffn1 keeps 4 of 24 units; ffn2 keeps all 24
    view = client_view(structure, keep)
    assert view.dims.per_layer("ffn") == (24, 24, 24)  # ffn1 padded with 20 dead units
    assert view.held == view.params - 20 * (2 * 16 + 1)  # ... held as zeros, never sent


def test_client_groups_map_to_the_same_weights_of_the_full_model() -> None:
    structure = build_structure(DIMS, "half", KINDS)
    keep = random_keep("half", "adaptive", 0.5, seed=2)
    view = client_view(structure, keep)
    local = build_structure(view.dims, "half", KINDS)
    full_coords = {}
    for block in structure.blocks:
        for g in range(block.groups):
            full_coords[block.first + g] = block.group_coords[g]
    mapped = 0
    for block in local.blocks:
        for g in range(block.groups):
            full_id = int(view.groups[block.first + g])
            positions = view.index[block.group_coords[g]]
            if full_id < 0:
                assert bool((positions < 0).all())  # a group the client does not hold: zeros
            else:
                assert torch.equal(positions, full_coords[full_id])
                mapped += 1
    assert mapped == int(keep.sum())  # every kept group, once


def test_an_update_lands_in_exactly_the_kept_coordinates() -> None:
    structure = build_structure(DIMS, "half", KINDS)
    keep = random_keep("half", "uniform", 0.5)
    view = client_view(structure, keep)
    small = FlatModel(view.dims)
    server = torch.randn(structure.numel, generator=torch.Generator().manual_seed(1))
    spec = ModelSpec(view.dims, coords="pruned")
    held = held_coordinates(spec, small.layout, server, {"pruned": view.index})
    local = view.index < 0
    assert bool((held.start[local] == 0).all())
    assert torch.equal(held.start[~local], server[view.index[~local]])
    assert held.sent.numel() == held.where.numel == view.held  # zeros are neither sent nor returned
    delta = torch.arange(1, view.held + 1, dtype=torch.float32)
    total = WeightedSum(structure.numel)
    total.add(delta, 0.0, held.where)
    mean, covered = total.mean()
    assert torch.equal(torch.nonzero(covered).reshape(-1), view.index[~local].sort().values)
    assert torch.equal(mean[view.index[~local]], delta)
    assert not bool(covered[structure.zero_mask(keep)].any())  # nothing reaches a pruned weight


def test_a_depth_limited_client_holds_the_prefix_of_its_index() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    view = client_view(structure, random_keep("column", "uniform", 0.5))
    small = FlatModel(view.dims)
    spec = ModelSpec(view.dims, coords="pruned", depth=1)
    held = held_coordinates(
        spec, small.layout, torch.zeros(structure.numel), {"pruned": view.index}
    )
    stop = small.layout.span(1)
    assert held.where.numel == int((view.index[:stop] >= 0).sum())
