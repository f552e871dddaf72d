"""Which coordinates of a server parameter set a client holds: one mechanism for every shape.

A client's model is a subset of a server vector's coordinates, listed in the client model's
own flat (depth-ordered) layout:

- `Span(start, stop)`: a contiguous range — the prefix an early-exit client holds, or the part
  after a frozen front-end. Cheap: nothing but two numbers travels.
- `Index(name, index)`: any sorted set of coordinates — a HeteroFL width slice, a pruning mask
  turned into a physically smaller model, a tier's share of a shared vector. The index tensor
  is named, so partial aggregates built on different workers merge by name without comparing
  tensors.

Aggregation (`aggregate.WeightedSum`) averages each coordinate over the clients that hold it,
whatever mix of spans and indices a round brings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Span:
    start: int
    stop: int

    @property
    def numel(self) -> int:
        return self.stop - self.start

    def take(self, flat: torch.Tensor) -> torch.Tensor:
        return flat[self.start : self.stop]


@dataclass(frozen=True, eq=False)
class Index:
    name: str  # names this exact set of coordinates within a round
    index: torch.Tensor  # int64, sorted, unique

    @property
    def numel(self) -> int:
        return int(self.index.numel())

    def take(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.index_select(0, self.index.to(flat.device))


Coords = Span | Index


def mask_to_index(mask: torch.Tensor) -> torch.Tensor:
    """A boolean mask over a flat vector as the sorted index of its True coordinates."""
    return torch.nonzero(mask.reshape(-1), as_tuple=False).reshape(-1).to(torch.int64)
