"""Model specs: what one client trains, and where its coordinates sit on the server.

A round task carries a `ModelSpec`. The worker builds (once, then caches) a model of
`spec.dims` — a device tier's own architecture, or a physically smaller model whose tensors
hold only the kept rows and columns — and loads it from the server parameter set
`spec.params`: the whole set, or the named index `spec.coords` that the broadcast carries
(a width slice, a pruning mask). An index entry of -1 marks a coordinate of the client's model
that the server does not give it (a masked weight the physically smaller model still has, e.g.
half of a pruned column): it starts at zero, and is neither sent down nor returned — the
algorithm keeps it at zero with a step hook. `depth` cuts what is trained at an exit;
`freeze_frontend` leaves the convolutional front-end untrained and unsent.

`held_coordinates` is the one place that turns a spec into the coordinates a client loads,
trains and sends back, so every algorithm counts bytes and aggregates the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fedasr.algorithms.coordinates import Coords, Index, Span
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout

MAIN = "global"  # the parameter set of methods that train one model


@dataclass(frozen=True)
class ModelSpec:
    dims: ConformerDims  # the architecture the client builds and trains
    params: str = MAIN  # the server parameter set its coordinates come from
    coords: str | None = None  # a named index into that set (broadcast.coords); None: all of it
    depth: int | None = None  # the deepest exit trained (None: all)
    freeze_frontend: bool = False  # the conv front-end is neither trained nor sent back


@dataclass(frozen=True, eq=False)
class View:
    """A sub-model of a server parameter set, evaluated and exported like a set of its own
    (HeteroFL's width slices, a pruned model): its architecture, the set, and where each of its
    flat coordinates sits in that set (`models.submodel.width_index`)."""

    dims: ConformerDims
    params: str
    index: torch.Tensor

    def take(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return params[self.params].index_select(0, self.index)


@dataclass(frozen=True)
class Held:
    """A client's share of a server set for one round."""

    start: torch.Tensor  # the values the client's model starts from (its whole flat layout)
    trained: Coords  # the part of the client's own flat vector it trains and returns
    where: Coords  # the server coordinates of `trained`
    down: Coords  # the part of the client's own flat vector the server sends

    @property
    def sent(self) -> torch.Tensor:
        """What the server sends down: the values up to the client's exit, without the
        coordinates it does not give the client (index -1)."""
        return self.down.take(self.start)


def held_coordinates(
    spec: ModelSpec,
    layout: ParamLayout,
    params: torch.Tensor,
    coords: dict[str, torch.Tensor],
) -> Held:
    """The starting values and coordinates of a client of `spec` whose model has `layout`."""
    stop = layout.span(spec.depth)
    start = layout.frontend_span if spec.freeze_frontend else 0
    trained = Span(start, stop)
    if spec.coords is None:
        return Held(params, trained, trained, Span(0, stop))
    index = coords[spec.coords]
    if index.numel() != layout.numel:
        raise ValueError(
            f"index {spec.coords!r} holds {index.numel()} coordinates; the model of this spec "
            f"has {layout.numel}"
        )
    name = spec.coords if (start, stop) == (0, layout.numel) else f"{spec.coords}[{start}:{stop}]"
    local = index < 0
    if not bool(local.any()):
        values = params.index_select(0, index)
        return Held(values, trained, Index(name, index[start:stop]), Span(0, stop))
    values = params.index_select(0, index.clamp(min=0)).masked_fill_(local, 0.0)
    positions = torch.arange(layout.numel, dtype=torch.int64)
    held = ~local
    in_trained = held & (positions >= start) & (positions < stop)
    kept = positions[in_trained]
    return Held(
        values,
        Index(f"{name}/held", kept),
        Index(name, index[kept]),
        Index(f"{name}/down", positions[held & (positions < stop)]),
    )
