"""What flows between the server, the executors and the algorithms.

An Algorithm has two halves (shared/DESIGN.md). The client half runs on a worker against a
`ClientContext` (algorithms/context.py): `update` trains one client and returns a ClientResult;
`fold` adds that result to the shard's running aggregate (still on the worker, so only one
partial aggregate per shard travels back). The server half is pure functions of the server
state: the broadcast of a round, each client's model spec (which may depend on the state, as
pruning masks do), and the next state from the merged aggregate. Anything a method sends
besides the model delta goes in `extras` and is counted in bytes like the delta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from fedasr.algorithms.aggregate import WeightedSum
from fedasr.algorithms.coordinates import Coords, Span
from fedasr.algorithms.spec import MAIN, ModelSpec, View

if TYPE_CHECKING:
    from fedasr.algorithms.context import ClientContext
    from fedasr.models.dims import ConformerDims


def tensor_bytes(*tensors: torch.Tensor | None) -> int:
    """Bytes on the wire: element size x elements of every tensor really sent."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


@dataclass
class Broadcast:
    round: int
    params: dict[str, torch.Tensor]  # server parameter sets by name (MAIN for one model)
    lr: float
    coords: dict[str, torch.Tensor] = field(default_factory=dict)  # named index sets (spec.coords)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientTask:
    client_id: str
    index: int  # the client's stable position among all registered clients (seeds derive from it)
    rows: np.ndarray  # row indices into the training split's feature store
    round: int
    seed: int
    depth: int | None = None  # deepest exit the client trains (its device budget); None = all
    frames: int = 0  # total feature frames (used to balance shards)
    tier: str | None = None  # the client's device tier, when devices are simulated
    spec: ModelSpec | None = None  # what it trains, set by the algorithm's server half
    # what plug-ins tell this client's half about its role this round (e.g. `attack`: the
    # attack group it plays, trust/plugins.py); small numbers only, pickled with the task
    tags: dict[str, int] = field(default_factory=dict)


@dataclass
class ClientCost:
    bytes_down: int = 0
    bytes_up: int = 0
    examples: int = 0
    audio_seconds: float = 0.0
    steps: int = 0
    flops: float = 0.0
    wall_s: float = 0.0

    def __add__(self, other: ClientCost) -> ClientCost:
        return ClientCost(
            self.bytes_down + other.bytes_down,
            self.bytes_up + other.bytes_up,
            self.examples + other.examples,
            self.audio_seconds + other.audio_seconds,
            self.steps + other.steps,
            self.flops + other.flops,
            self.wall_s + other.wall_s,
        )


@dataclass
class ClientResult:
    client_id: str
    delta: torch.Tensor | None  # theta_global - theta_client over the slice the client trained
    examples: int
    frames: int
    loss_sum: float  # summed training CTC loss over the local steps
    cost: ClientCost
    depth: int | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    where: Coords | None = None  # the server coordinates of `delta` (None: all, from 0)
    params: str = MAIN  # the server parameter set `delta` belongs to

    @property
    def coords(self) -> Coords:
        if self.where is not None:
            return self.where
        return Span(0, 0 if self.delta is None else self.delta.numel())

    @property
    def loss_per_frame(self) -> float:
        return self.loss_sum / self.frames if self.frames else math.inf


@dataclass
class ClientReport:
    """The small per-client record every round logs (also for failed clients)."""

    client_id: str
    ok: bool
    error: str | None = None
    cost: ClientCost = field(default_factory=ClientCost)
    loss_per_frame: float = math.nan
    log_weight: float = -math.inf
    depth: int | None = None
    stats: dict[str, float] = field(default_factory=dict)
    failure: str | None = None  # error | crash | timeout | nonfinite (engine/outcomes.py)


@dataclass
class KeptUpdate:
    """One client's vector kept whole, for a server half that needs every update on its own
    (robust aggregation compares them; secure aggregation masks each one)."""

    client_id: str
    vector: torch.Tensor
    log_weight: float
    where: Coords  # the server coordinates of `vector`
    values: dict[str, float] = field(default_factory=dict)  # scalars the client sent with it


@dataclass
class RoundAccumulator:
    """One shard's partial aggregate; shards merge in a fixed order into the round's total.
    `kept` holds updates a client half chose to keep individually (in fold order; the server
    half sorts them, e.g. by client index, so every executor hands it the same order)."""

    numels: dict[str, int]  # coordinates of each server parameter set
    sums: dict[str, WeightedSum] = field(default_factory=dict)
    plain: dict[str, torch.Tensor] = field(default_factory=dict)
    reports: list[ClientReport] = field(default_factory=list)
    kept: dict[str, list[KeptUpdate]] = field(default_factory=dict)

    @classmethod
    def for_broadcast(cls, broadcast: Broadcast) -> RoundAccumulator:
        return cls({name: int(t.numel()) for name, t in broadcast.params.items()})

    def weighted(self, name: str, numel: int | None = None) -> WeightedSum:
        """The weighted sum `name`: `delta` (MAIN) or `delta.SET` sizes itself from its set."""
        if name not in self.sums:
            default = self.numels.get(name.partition(".")[2] or MAIN, 0)
            self.sums[name] = WeightedSum(numel if numel is not None else default)
        return self.sums[name]

    def add_plain(self, name: str, tensor: torch.Tensor) -> None:
        current = self.plain.get(name)
        self.plain[name] = tensor.double() if current is None else current + tensor.double()

    def keep(self, name: str, update: KeptUpdate) -> None:
        self.kept.setdefault(name, []).append(update)

    def merge(self, other: RoundAccumulator) -> None:
        for name, part in other.sums.items():
            self.weighted(name, part.numel).merge(part)
        for name, tensor in other.plain.items():
            self.add_plain(name, tensor)
        for name, updates in other.kept.items():
            self.kept.setdefault(name, []).extend(updates)
        self.reports.extend(other.reports)

    @property
    def succeeded(self) -> int:
        return sum(report.ok for report in self.reports)


@dataclass
class ServerState:
    params: dict[str, torch.Tensor]  # parameter sets by name (MAIN for one model)
    optimizer: dict[str, torch.Tensor]
    round: int = 0
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def main(self) -> torch.Tensor:
        return self.params[MAIN]

    def replace_params(self, name: str, tensor: torch.Tensor) -> ServerState:
        return ServerState({**self.params, name: tensor}, self.optimizer, self.round, self.extras)


class ClientHalf(Protocol):
    """Runs on a worker; must pickle (it travels to worker processes and Ray actors)."""

    def update(
        self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast
    ) -> ClientResult: ...

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport: ...


class ServerHalf(Protocol):
    """Pure functions of the server state; nothing here runs on a worker."""

    def init(self, params: dict[str, torch.Tensor]) -> ServerState: ...

    def spec_for(self, state: ServerState, task: ClientTask) -> ModelSpec:
        """What `task` trains this round (it may depend on the state: pruning masks)."""
        ...

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast: ...

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]: ...


@dataclass(frozen=True)
class Algorithm:
    name: str
    client: ClientHalf
    server: ServerHalf
    param_dims: dict[str, ConformerDims]  # the architecture of every server parameter set
    # sub-models of a set evaluated and exported under their own name (HeteroFL's tiers)
    views: dict[str, View] = field(default_factory=dict)
