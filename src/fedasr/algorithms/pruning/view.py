"""A pruning mask as what a client receives: a physically smaller model and its coordinates.

From the kept groups of the full model (`keep`), `client_view` derives the architecture the
client builds (ffn units and heads without a kept group are gone), the index of each of its
coordinates in the server's flat vector (-1 where the client's model keeps a zero: a pruned
half of a live unit, a pruned conv channel, a dead ffn unit that pads ffn1 and ffn2 of a layer
to one width) and, for every mask group of the client's own model, the full model's group id
(-1 for groups it does not hold), so a client's importance scores land on the right groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fedasr.algorithms.pruning.structure import PHYSICAL, Block, Structure, build_structure
from fedasr.models.dims import ConformerDims
from fedasr.models.submodel import LayerSelection, width_index


@dataclass(frozen=True)
class ClientView:
    dims: ConformerDims  # the physically smaller architecture
    index: torch.Tensor  # (client numel,) int64: server coordinate of each, -1 = a held zero
    groups: torch.Tensor  # (client groups,) int64: full-model group id of each, -1 = not held
    # (the client's own structure under the same pattern and kinds)

    @property
    def params(self) -> int:
        """Parameters of the client's model (zeros it holds included)."""
        return int(self.index.numel())

    @property
    def held(self) -> int:
        """Coordinates the client really receives and returns."""
        return int((self.index >= 0).sum())


def client_view(structure: Structure, keep: torch.Tensor) -> ClientView:
    alive = structure.alive(keep)
    kept_units = _kept_units(structure, alive)
    dims, index = width_index(structure.dims, _selections(structure, kept_units))
    index = torch.where(structure.zero_mask(keep)[index], torch.tensor(-1), index)
    kinds = tuple(dict.fromkeys(block.kind for block in structure.blocks))
    local = build_structure(dims, structure.pattern, kinds)
    return ClientView(dims, index, _group_map(structure, local, kept_units, keep))


def _kept_units(structure: Structure, alive: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per block name, the full model's units the client's model has (sorted). A conv block
    keeps every channel; ffn1 and ffn2 of a layer share one width, so the one with fewer live
    units is padded with its lowest dead units (held as zeros)."""
    units: dict[str, torch.Tensor] = {}
    for block, live in zip(structure.blocks, alive, strict=True):
        if block.kind in PHYSICAL:
            units[block.name] = torch.nonzero(live).reshape(-1)
        else:
            units[block.name] = torch.arange(block.units)
    for layer in range(structure.dims.layers):
        names = [f"layers.{layer}.ffn1", f"layers.{layer}.ffn2"]
        if not all(name in units for name in names):
            continue
        width = max(len(units[name]) for name in names)
        for name, live in zip(names, _alive_of(structure, alive, names), strict=True):
            dead = torch.nonzero(~live).reshape(-1)
            padded = torch.cat([units[name], dead[: width - len(units[name])]])
            units[name] = padded.sort().values
    return units


def _alive_of(
    structure: Structure, alive: list[torch.Tensor], names: list[str]
) -> list[torch.Tensor]:
    by_name = {block.name: live for block, live in zip(structure.blocks, alive, strict=True)}
    return [by_name[name] for name in names]


def _selections(structure: Structure, units: dict[str, torch.Tensor]) -> list[LayerSelection]:
    """LayerSelection per layer: the kept units, or all of a block that is not pruned."""
    dims = structure.dims
    selections = []
    for layer in range(dims.layers):
        widths = dims.layer(layer)

        def pick(kind: str, width: int, layer: int = layer) -> torch.Tensor:
            return units.get(f"layers.{layer}.{kind}", torch.arange(width))

        selections.append(
            LayerSelection(
                ffn1=pick("ffn1", widths["ffn"]),
                ffn2=pick("ffn2", widths["ffn"]),
                heads=pick("attn", widths["heads"]),
                conv=pick("conv", widths["conv_channels"]),
            )
        )
    return selections


def _group_map(
    full: Structure, local: Structure, units: dict[str, torch.Tensor], keep: torch.Tensor
) -> torch.Tensor:
    parts = []
    for big, small in zip(full.blocks, local.blocks, strict=True):
        parts.append(_block_group_map(big, small, units[big.name], keep))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)


def _block_group_map(
    big: Block, small: Block, units: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    per_unit = big.per_unit
    offsets = torch.arange(per_unit)
    ids = big.first + (units[:, None] * per_unit + offsets[None, :]).reshape(-1)
    assert ids.numel() == small.groups, "the client's blocks follow the full model's"
    return torch.where(keep[ids], ids, torch.tensor(-1))
