"""What federated pruning can remove from a ConformerCTC, as coordinates of its flat vector.

A *block* is one prunable module of one Conformer layer — `ffn1`, `attn`, `conv`, `ffn2` — and
its *units* are what that module is made of along its inner width: feed-forward hidden units,
attention heads, convolution channels. A unit's coordinates are every weight that exists only
because of it (torch convention, weight = out x in):

    ffn unit f      up.weight[f, :], up.bias[f], down.weight[:, f]
    attention head  the head's q, k and v rows of qkv.weight and qkv.bias, its columns of out.weight
    conv channel c  pw_in.weight/bias rows c and C+c (GLU value and gate), dw.weight[c], dw.bias[c],
                    dw_norm.weight[c], dw_norm.bias[c], pw_out.weight[:, c]

A pruning *pattern* says which of those weights a mask group covers — what is scored and
masked (the paper's "columns" are the output units of y = x W, i.e. torch weight rows):

    column  the unit's producing weights: up row f (+ bias), the head's qkv rows, pw_in rows c, C+c
    row     the unit's consuming weights: down column f, the head's out columns, pw_out column c
    half    half a column: the producing weights over the first or the second half of the
            residual inputs (two groups per unit)

Masking either side of a unit silences it exactly (a zero column gives a zero activation, a
zero row ignores it), so a unit whose groups are all pruned is removed with *all* its
coordinates: for ffn units and heads the client's model is physically smaller (fewer hidden
units, fewer heads). What cannot shrink a ConformerDims stays in the client's model as zeros
that a step hook keeps at zero (index -1 in the client's coordinates, never sent): a pruned half
of a live unit, and conv channels — the depthwise norm is a LayerNorm over the channels, so a
model without channel c is not the dense model with channel c zeroed. The residual width
(d_model) is never pruned: every layer, the front-end and the exits share it. Front-end, norms,
depthwise kernels of live channels and exits are not prunable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import torch

from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout, dims_key

KINDS = ("ffn1", "attn", "conv", "ffn2")  # the blocks of one layer, in forward order
PHYSICAL = frozenset({"ffn1", "attn", "ffn2"})  # units removed from the client's model
PATTERNS = ("column", "row", "half")
PRUNABLE = {"ffn": ("ffn1", "ffn2"), "attn": ("attn",), "conv": ("conv",)}  # config names


@dataclass(frozen=True)
class Block:
    name: str  # e.g. "layers.2.attn"
    layer: int
    kind: str
    first: int  # id of its first group; its groups are first .. first + groups - 1
    unit_coords: torch.Tensor  # (units, unit size): flat positions of each unit
    group_coords: torch.Tensor  # (groups, group size): positions each group scores and masks

    @property
    def units(self) -> int:
        return int(self.unit_coords.shape[0])

    @property
    def groups(self) -> int:
        return int(self.group_coords.shape[0])

    @property
    def per_unit(self) -> int:
        return self.groups // self.units


@dataclass(frozen=True)
class Structure:
    dims: ConformerDims
    pattern: str
    blocks: tuple[Block, ...]
    numel: int  # coordinates of the whole model

    @property
    def groups(self) -> int:
        return sum(block.groups for block in self.blocks)

    def group_weights(self) -> torch.Tensor:
        """(groups,) float64: weights each group scores (what sparsity is counted in)."""
        return torch.cat(
            [torch.full((b.groups,), float(b.group_coords.shape[1])) for b in self.blocks]
        ).double()

    def group_block(self) -> torch.Tensor:
        """(groups,) int64: the index of each group's block."""
        return torch.cat([torch.full((b.groups,), i) for i, b in enumerate(self.blocks)])

    def group_layer(self) -> torch.Tensor:
        """(groups,) int64: the (0-based) layer of each group."""
        return torch.cat([torch.full((b.groups,), b.layer) for b in self.blocks])

    def owner(self) -> torch.Tensor:
        """(numel,) int64: the group whose weights a coordinate is scored in, or -1."""
        owner = torch.full((self.numel,), -1, dtype=torch.int64)
        for block in self.blocks:
            ids = torch.arange(block.first, block.first + block.groups)
            owner[block.group_coords] = ids[:, None].expand_as(block.group_coords)
        return owner

    def prunable_mask(self) -> torch.Tensor:
        """(numel,) bool: coordinates of some unit."""
        mask = torch.zeros(self.numel, dtype=torch.bool)
        for block in self.blocks:
            mask[block.unit_coords.reshape(-1)] = True
        return mask

    def alive(self, keep: torch.Tensor) -> list[torch.Tensor]:
        """Per block, (units,) bool: units with at least one kept group."""
        return [
            keep[b.first : b.first + b.groups].view(b.units, b.per_unit).any(dim=1)
            for b in self.blocks
        ]

    def zero_mask(self, keep: torch.Tensor) -> torch.Tensor:
        """(numel,) bool: the coordinates that `keep` (groups,) sets to zero — every
        coordinate of a unit without a kept group, and the weights of a pruned group (half)."""
        zero = torch.zeros(self.numel, dtype=torch.bool)
        for block, alive in zip(self.blocks, self.alive(keep), strict=True):
            zero[block.unit_coords[~alive].reshape(-1)] = True
            pruned = ~keep[block.first : block.first + block.groups]
            zero[block.group_coords[pruned].reshape(-1)] = True
        return zero


def build_structure(dims: ConformerDims, pattern: str, kinds: tuple[str, ...]) -> Structure:
    """The prunable blocks of `dims` (only the kinds listed) under `pattern`."""
    return _cached_structure(dims_key(dims), pattern, tuple(kinds))


@lru_cache(maxsize=32)
def _cached_structure(key: str, pattern: str, kinds: tuple[str, ...]) -> Structure:
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r}; allowed: {', '.join(PATTERNS)}")
    dims = ConformerDims(**json.loads(key))
    if pattern == "half" and dims.d_model % 2:
        raise ValueError(f"the half pattern needs an even model width (d_model={dims.d_model})")
    layout = ParamLayout.for_dims(dims)
    views = layout.views(torch.arange(layout.numel, dtype=torch.int64))
    blocks: list[Block] = []
    first = 0
    for layer in range(dims.layers):
        for kind in KINDS:
            if kind not in kinds:
                continue
            base = f"layers.{layer}.{kind}"
            units, groups = _COORDS[kind](views, base, dims, layer, pattern)
            blocks.append(Block(base, layer, kind, first, units, groups))
            first += groups.shape[0]
    return Structure(dims, pattern, tuple(blocks), layout.numel)


Views = dict[str, torch.Tensor]
Coords = tuple[torch.Tensor, torch.Tensor]  # (unit coordinates, group coordinates)


def _halves(producing: torch.Tensor) -> torch.Tensor:
    """(units, rows, d) -> (2 units, rows * d/2): each unit's inputs cut in two halves."""
    units, rows, width = producing.shape
    halves = producing.view(units, rows, 2, width // 2).transpose(1, 2)
    return halves.reshape(2 * units, rows * (width // 2))


def _choose(
    pattern: str, producing: torch.Tensor, bias: torch.Tensor, consuming: torch.Tensor
) -> torch.Tensor:
    """The group coordinates of each pattern; `producing` is (units, rows, d)."""
    units = producing.shape[0]
    if pattern == "column":
        return torch.cat([producing.reshape(units, -1), bias.reshape(units, -1)], dim=1)
    if pattern == "row":
        return consuming.reshape(units, -1)
    return _halves(producing)


def _ffn(views: Views, base: str, dims: ConformerDims, layer: int, pattern: str) -> Coords:
    up, bias, down = (views[f"{base}.{n}"] for n in ("up.weight", "up.bias", "down.weight"))
    units = torch.cat([up, bias[:, None], down.T], dim=1)
    return units, _choose(pattern, up[:, None, :], bias, down.T)


def _attn(views: Views, base: str, dims: ConformerDims, layer: int, pattern: str) -> Coords:
    heads, size, d = dims.layer(layer)["heads"], dims.head_size, dims.d_model
    qkv = views[f"{base}.qkv.weight"].view(3, heads, size, d).transpose(0, 1)  # (H, 3, hs, d)
    bias = views[f"{base}.qkv.bias"].view(3, heads, size).transpose(0, 1)
    out = views[f"{base}.out.weight"].view(d, heads, size).transpose(0, 1)  # (H, d, hs)
    producing = qkv.reshape(heads, 3 * size, d)
    units = torch.cat(
        [producing.reshape(heads, -1), bias.reshape(heads, -1), out.reshape(heads, -1)], dim=1
    )
    return units, _choose(pattern, producing, bias, out)


def _conv(views: Views, base: str, dims: ConformerDims, layer: int, pattern: str) -> Coords:
    channels = dims.layer(layer)["conv_channels"]
    pw_in = views[f"{base}.pw_in.weight"].view(2, channels, -1).transpose(0, 1)  # (C, 2, d)
    pw_bias = views[f"{base}.pw_in.bias"].view(2, channels).T
    inner = [views[f"{base}.{n}"].reshape(channels, -1) for n in _CONV_INNER]
    out = views[f"{base}.pw_out.weight"].T
    units = torch.cat([pw_in.reshape(channels, -1), pw_bias, *inner, out], dim=1)
    return units, _choose(pattern, pw_in, pw_bias, out)


_CONV_INNER = ("dw.weight", "dw.bias", "dw_norm.weight", "dw_norm.bias")
_COORDS = {"ffn1": _ffn, "ffn2": _ffn, "attn": _attn, "conv": _conv}
