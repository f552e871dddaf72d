"""Depth and width slices: lossless merge-back, strict loading, unchanged outputs."""

from __future__ import annotations

import pytest
import torch
from model_helpers import TINY, UNEVEN, random_inputs

from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims
from fedasr.models.submodel import (
    LayerSelection,
    State,
    depth_slice,
    merge_depth,
    merge_width,
    prefix_selection,
    width_slice,
)

LENGTHS = [57, 33]


def full_state(dims: ConformerDims, seed: int = 0) -> State:
    return {k: v.clone() for k, v in build_model(dims, seed=seed).state_dict().items()}


def assert_states_equal(a: State, b: State) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def shifted(state: State) -> State:
    """Every float tensor moved by a distinct amount: a stand-in for a trained slice."""
    return {k: v + 0.01 * (i + 1) for i, (k, v) in enumerate(state.items())}


def random_selection(dims: ConformerDims, seed: int) -> list[LayerSelection]:
    """A random, sorted subset of units per layer, of a different size in every layer."""
    gen = torch.Generator().manual_seed(seed)

    def pick(width: int) -> torch.Tensor:
        count = int(torch.randint(1, width + 1, (1,), generator=gen))
        return torch.randperm(width, generator=gen)[:count].sort().values

    selections = []
    for i in range(dims.layers):
        w = dims.layer(i)
        ffn = pick(w["ffn"])
        selections.append(LayerSelection(ffn, ffn, pick(w["heads"]), pick(w["conv_channels"])))
    return selections


@pytest.mark.parametrize("dims", [TINY, UNEVEN], ids=["uniform", "uneven+proj"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_slice_loads_strictly_and_merges_back(dims: ConformerDims, depth: int) -> None:
    state = full_state(dims)
    sliced, sliced_dims = depth_slice(state, dims, depth)
    assert sliced_dims.layers == dims.exits[depth - 1]
    assert sliced_dims.exits == dims.exits[:depth]
    small = build_model(sliced_dims)
    small.load_state_dict(sliced, strict=True)
    assert_states_equal(merge_depth(state, sliced), state)

    trained = shifted(sliced)
    merged = merge_depth(state, trained)
    for name, tensor in merged.items():
        expected = trained[name] if name in trained else state[name]
        assert torch.equal(tensor, expected), name


def test_depth_slice_computes_the_same_exits() -> None:
    full = build_model(UNEVEN, seed=3).eval()
    sliced, sliced_dims = depth_slice(full.state_dict(), UNEVEN, 2)
    small = build_model(sliced_dims).eval()
    small.load_state_dict(sliced, strict=True)
    feats, lengths = random_inputs(UNEVEN, LENGTHS)
    expected = full(feats, lengths, depth=2).log_probs
    for got, want in zip(small(feats, lengths).log_probs, expected, strict=True):
        assert torch.equal(got, want)


def selections(dims: ConformerDims) -> dict[str, list[LayerSelection]]:
    return {
        "prefix-half": prefix_selection(dims, 0.5),
        "prefix-quarter": prefix_selection(dims, 0.25),
        "random": random_selection(dims, seed=7),
    }


@pytest.mark.parametrize("dims", [TINY, UNEVEN], ids=["uniform", "uneven+proj"])
@pytest.mark.parametrize("kind", ["prefix-half", "prefix-quarter", "random"])
def test_width_slice_loads_strictly_and_merges_back(dims: ConformerDims, kind: str) -> None:
    selection = selections(dims)[kind]
    state = full_state(dims)
    sliced, sliced_dims = width_slice(state, dims, selection)
    small = build_model(sliced_dims)
    small.load_state_dict(sliced, strict=True)
    assert_states_equal(merge_width(state, sliced, dims, selection), state)

    trained = shifted(sliced)
    merged = merge_width(state, trained, dims, selection)
    resliced, _ = width_slice(merged, dims, selection)
    assert_states_equal(resliced, trained)
    # Coordinates outside the selection keep their old values: mark the kept ones and compare.
    marks = merge_width(
        {k: torch.zeros_like(v) for k, v in state.items()},
        {k: torch.ones_like(v) for k, v in sliced.items()},
        dims,
        selection,
    )
    for name in state:
        untouched = marks[name] == 0
        assert torch.equal(merged[name][untouched], state[name][untouched]), name


def test_a_width_slice_of_a_depth_slice_runs() -> None:
    state = full_state(UNEVEN)
    shallow, shallow_dims = depth_slice(state, UNEVEN, 2)
    narrow, narrow_dims = width_slice(shallow, shallow_dims, random_selection(shallow_dims, 1))
    model = build_model(narrow_dims).eval()
    model.load_state_dict(narrow, strict=True)
    feats, lengths = random_inputs(UNEVEN, LENGTHS)
    assert len(model(feats, lengths).log_probs) == 2


def keep_all(dims: ConformerDims, seed: int | None) -> list[LayerSelection]:
    """Every unit of every layer, in order (seed None) or shuffled."""
    gen = torch.Generator().manual_seed(seed or 0)

    def order(width: int) -> torch.Tensor:
        return torch.arange(width) if seed is None else torch.randperm(width, generator=gen)

    selection = []
    for i in range(dims.layers):
        w = dims.layer(i)
        ffn = order(w["ffn"])
        selection.append(LayerSelection(ffn, ffn, order(w["heads"]), order(w["conv_channels"])))
    return selection


@pytest.mark.parametrize("dims", [TINY, UNEVEN], ids=["uniform", "uneven+proj"])
def test_keeping_every_unit_leaves_outputs_unchanged(dims: ConformerDims) -> None:
    full = build_model(dims, seed=4).eval()
    feats, lengths = random_inputs(dims, LENGTHS)
    expected = full(feats, lengths).log_probs
    for selection in (prefix_selection(dims, 1.0), keep_all(dims, None)):
        sliced, sliced_dims = width_slice(full.state_dict(), dims, selection)
        for name in ("heads", "ffn", "conv_channels"):
            assert sliced_dims.per_layer(name) == dims.per_layer(name)
        same = build_model(sliced_dims).eval()
        same.load_state_dict(sliced, strict=True)
        for got, want in zip(same(feats, lengths).log_probs, expected, strict=True):
            assert torch.equal(got, want)


def test_a_permuted_full_selection_computes_the_same_function() -> None:
    """Units, heads and channels reordered together: the slicing indices are consistent
    across every matrix that touches a unit (q/k/v rows, output columns, GLU halves)."""
    full = build_model(UNEVEN, seed=5).eval()
    feats, lengths = random_inputs(UNEVEN, LENGTHS)
    expected = full(feats, lengths).log_probs
    sliced, sliced_dims = width_slice(full.state_dict(), UNEVEN, keep_all(UNEVEN, seed=9))
    permuted = build_model(sliced_dims).eval()
    permuted.load_state_dict(sliced, strict=True)
    moved = sliced["layers.0.ffn1.up.weight"]
    assert not torch.equal(moved, full.state_dict()["layers.0.ffn1.up.weight"])
    for got, want in zip(permuted(feats, lengths).log_probs, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("dims", [TINY, UNEVEN], ids=["uniform", "uneven+proj"])
def test_width_index_reads_the_width_slice_from_the_flat_vector(dims: ConformerDims) -> None:
    from fedasr.models.flat import FlatModel, ParamLayout
    from fedasr.models.submodel import width_index

    full = FlatModel(dims, seed=3)
    selection = random_selection(dims, 5)
    sliced_dims, index = width_index(dims, selection)
    assert index.unique().numel() == index.numel() == ParamLayout.for_dims(sliced_dims).numel
    small = FlatModel(sliced_dims)
    small.load(full.flat[index])  # the flat way ...
    expected, _ = width_slice(full.module.state_dict(), dims, selection)  # ... the state way
    assert_states_equal(dict(small.module.state_dict()), expected)
    x, lengths = random_inputs(dims, LENGTHS)
    small.module.eval()
    assert small.module(x, lengths).log_probs[-1].isfinite().all()
