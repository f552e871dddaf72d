"""Flat parameter buffers in depth order.

All parameters of a model live in one contiguous float32 vector, ordered front-end, layers up
to exit 1, exit 1, layers up to exit 2, exit 2, ... so that the model cut at exit d is a
*prefix* of the vector. Loading a client's state is one `copy_`, a pseudo-gradient is one
subtraction, and an early-exit client's upload is a prefix slice; no state dicts are built or
deep-copied on the hot path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import nn

from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.models.dims import ConformerDims


def _depth_key(name: str, dims: ConformerDims) -> tuple[int, int]:
    """Sort key: (position along the network, 0 for layers / 1 for exits)."""
    parts = name.split(".")
    if parts[0] == "layers":
        return int(parts[1]) + 1, 0
    if parts[0] == "exits":
        return dims.exits[int(parts[1])], 1
    return 0, 0


@dataclass(frozen=True)
class ParamLayout:
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    numel: int
    depth_spans: tuple[int, ...]  # prefix length covering exits 1..d, for d = 1..len(exits)

    @classmethod
    def of(cls, model: nn.Module, dims: ConformerDims) -> ParamLayout:
        named = dict(model.named_parameters())
        order = sorted(named, key=lambda n: _depth_key(n, dims))  # stable: keeps module order
        offsets, total = [], 0
        spans: dict[int, int] = {}
        for name in order:
            offsets.append(total)
            total += named[name].numel()
            if name.startswith("exits."):
                spans[int(name.split(".")[1])] = total
        return cls(
            names=tuple(order),
            shapes=tuple(tuple(named[n].shape) for n in order),
            offsets=tuple(offsets),
            numel=total,
            depth_spans=tuple(spans[i] for i in range(len(dims.exits))),
        )

    @classmethod
    def for_dims(cls, dims: ConformerDims) -> ParamLayout:
        """The layout of a model of `dims`, without allocating or initializing its weights."""
        with torch.device("meta"):
            return cls.of(ConformerCTC(dims), dims)

    def span(self, depth: int | None) -> int:
        """Number of leading coordinates a model cut at exit `depth` holds (None = all)."""
        return self.numel if depth is None else self.depth_spans[depth - 1]

    @property
    def frontend_span(self) -> int:
        """Number of leading coordinates that hold the front-end (conv subsampling): what a
        client with a frozen front-end neither trains nor uploads."""
        return sum(
            _numel(shape)
            for name, shape in zip(self.names, self.shapes, strict=True)
            if name.startswith("frontend.")
        )

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            name: flat[offset : offset + _numel(shape)].view(shape)
            for name, shape, offset in zip(self.names, self.shapes, self.offsets, strict=True)
        }

    def flatten(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([state[name].reshape(-1).float() for name in self.names])


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def bind_flat(model: nn.Module, layout: ParamLayout) -> torch.Tensor:
    """Move the model's parameters into one flat buffer on the model's device; the parameters
    become views of it."""
    named = dict(model.named_parameters())
    device = next(iter(named.values())).device
    flat = torch.empty(layout.numel, dtype=torch.float32, device=device)
    for name, view in layout.views(flat).items():
        view.copy_(named[name].detach())
        named[name].data = view
    return flat


class FlatModel:
    """A ConformerCTC whose parameters are views of one flat float32 buffer in depth order:
    loading a starting point is one `copy_`, reading the trained values is a slice."""

    def __init__(
        self, dims: ConformerDims, device: torch.device | str = "cpu", seed: int | None = None
    ) -> None:
        self.dims = dims
        self.module = build_model(dims, seed=seed).to(device)
        self.layout = ParamLayout.of(self.module, dims)
        self.flat = bind_flat(self.module, self.layout)  # on `device`

    def load(self, params: torch.Tensor) -> None:
        self.flat.copy_(params, non_blocking=True)  # host to device; ordered before any step

    def parameters_in_order(self) -> list[nn.Parameter]:
        """The parameters in the flat vector's order (what `layout.views` pairs with)."""
        named = dict(self.module.named_parameters())
        return [named[name] for name in self.layout.names]


def dims_key(dims: ConformerDims) -> str:
    """A stable string naming an architecture (ConformerDims holds a dict, so is unhashable)."""
    return json.dumps(dims.to_dict(), sort_keys=True)
