"""Pure helpers to cut a ConformerCTC state down to a depth or a width and merge it back, and
the coordinate index that lets the engine do the same on flat vectors.

A *depth* slice keeps the front-end, the layers up to exit d and exits 1..d (early-exit
clients). A *width* slice keeps chosen feed-forward units, attention heads and convolution
channels of every layer (federated pruning, narrow tiers); the residual width d_model is never
cut, so every slice still plugs into the same front-end and exits. Slices are plain state dicts
plus the ConformerDims that build a model of exactly that shape; merging writes a trained
slice back into the kept coordinates of a full state and leaves the rest untouched.
`width_index` is the same cut as positions in the full model's flat vector: a model spec that
names it (algorithms/spec.py) gives a client the physically smaller model, and aggregation
scatters its update back into exactly those coordinates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout

State = dict[str, torch.Tensor]


# ----------------------------------------------------------------------------- depth


def depth_dims(dims: ConformerDims, depth: int) -> ConformerDims:
    layers = dims.layers_for_exit(depth)
    return dims.with_(
        layers=layers,
        exits=dims.exits[:depth],
        **{name: dims.per_layer(name)[:layers] for name in ("heads", "ffn", "conv_channels")},
    )


def in_depth(name: str, dims: ConformerDims, depth: int) -> bool:
    """Whether parameter `name` belongs to the model cut at exit `depth`."""
    parts = name.split(".")
    if parts[0] == "layers":
        return int(parts[1]) < dims.layers_for_exit(depth)
    if parts[0] == "exits":
        return int(parts[1]) < depth
    return True


def depth_slice(state: State, dims: ConformerDims, depth: int) -> tuple[State, ConformerDims]:
    sliced = {name: t for name, t in state.items() if in_depth(name, dims, depth)}
    return sliced, depth_dims(dims, depth)


def merge_depth(full: State, sliced: State) -> State:
    """A copy of `full` with every tensor present in `sliced` replaced by the sliced one."""
    return {name: sliced.get(name, tensor).clone() for name, tensor in full.items()}


# ----------------------------------------------------------------------------- width


@dataclass(frozen=True)
class LayerSelection:
    """Kept units of one layer, as sorted index tensors."""

    ffn1: torch.Tensor
    ffn2: torch.Tensor
    heads: torch.Tensor
    conv: torch.Tensor


def prefix_selection(dims: ConformerDims, ratio: float) -> list[LayerSelection]:
    """Keep the first round(ratio x width) units of each layer (at least one), HeteroFL-style."""
    selections = []
    for i in range(dims.layers):
        w = dims.layer(i)
        keep = {k: torch.arange(max(1, round(ratio * v))) for k, v in w.items()}
        selections.append(
            LayerSelection(keep["ffn"], keep["ffn"], keep["heads"], keep["conv_channels"])
        )
    return selections


def width_dims(dims: ConformerDims, selection: list[LayerSelection]) -> ConformerDims:
    if any(len(s.ffn1) != len(s.ffn2) for s in selection):
        raise ValueError("ffn1 and ffn2 of a layer must keep the same number of units")
    return dims.with_(
        ffn=tuple(len(s.ffn1) for s in selection),
        heads=tuple(len(s.heads) for s in selection),
        conv_channels=tuple(len(s.conv) for s in selection),
    )


def _head_rows(heads: torch.Tensor, total_heads: int, head_size: int, parts: int) -> torch.Tensor:
    """Row indices of whole heads in a packed projection of `parts` blocks (q, k, v)."""
    offsets = torch.arange(head_size)
    rows = [
        p * total_heads * head_size + h * head_size + offsets for p in range(parts) for h in heads
    ]
    return torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)


def width_axes(
    dims: ConformerDims, selection: list[LayerSelection]
) -> Iterator[tuple[str, int, torch.Tensor]]:
    """(parameter name, axis, kept indices along that axis) for every cut parameter."""
    for i, sel in enumerate(selection):
        base = f"layers.{i}"
        for ffn, units in (("ffn1", sel.ffn1), ("ffn2", sel.ffn2)):
            yield f"{base}.{ffn}.up.weight", 0, units
            yield f"{base}.{ffn}.up.bias", 0, units
            yield f"{base}.{ffn}.down.weight", 1, units
        heads = dims.layer(i)["heads"]
        yield f"{base}.attn.qkv.weight", 0, _head_rows(sel.heads, heads, dims.head_size, 3)
        yield f"{base}.attn.qkv.bias", 0, _head_rows(sel.heads, heads, dims.head_size, 3)
        yield f"{base}.attn.out.weight", 1, _head_rows(sel.heads, heads, dims.head_size, 1)
        channels = dims.layer(i)["conv_channels"]
        glu_rows = torch.cat([sel.conv, sel.conv + channels])
        yield f"{base}.conv.pw_in.weight", 0, glu_rows
        yield f"{base}.conv.pw_in.bias", 0, glu_rows
        for name in ("dw.weight", "dw.bias", "dw_norm.weight", "dw_norm.bias"):
            yield f"{base}.conv.{name}", 0, sel.conv
        yield f"{base}.conv.pw_out.weight", 1, sel.conv


def width_slice(
    state: State, dims: ConformerDims, selection: list[LayerSelection]
) -> tuple[State, ConformerDims]:
    sliced = dict(state)
    for name, axis, index in width_axes(dims, selection):
        sliced[name] = sliced[name].index_select(axis, index)
    return {k: v.clone() for k, v in sliced.items()}, width_dims(dims, selection)


def merge_width(
    full: State, sliced: State, dims: ConformerDims, selection: list[LayerSelection]
) -> State:
    """A copy of `full` with the sliced values written back into the kept coordinates."""
    merged = {name: sliced.get(name, t).clone() for name, t in full.items()}
    for name, axis, index in width_axes(dims, selection):
        if name in sliced:
            merged[name] = full[name].index_copy(axis, index, sliced[name])
    return merged


def width_index(
    dims: ConformerDims, selection: list[LayerSelection]
) -> tuple[ConformerDims, torch.Tensor]:
    """(dims of the width-sliced model, where each of its flat coordinates sits in the full
    model's flat vector), listed in the sliced model's own flat order."""
    full = ParamLayout.for_dims(dims)
    positions = full.views(torch.arange(full.numel, dtype=torch.int64))
    sliced, sliced_dims = width_slice(positions, dims, selection)
    order = ParamLayout.for_dims(sliced_dims).names
    return sliced_dims, torch.cat([sliced[name].reshape(-1) for name in order])
