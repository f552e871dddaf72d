"""What flows between the server, the executors and the algorithms.

An Algorithm has two halves (shared/DESIGN.md): `client_update` runs on a worker and returns a
ClientResult; `accumulate` folds that result into the shard's running aggregate (still on the
worker, so only one partial aggregate per shard travels back); `server_update` turns the merged
aggregate into the next global state. Anything a method sends besides the model delta goes in
`extras` and is counted in bytes like the delta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from fedasr.algorithms.aggregate import WeightedSum

if TYPE_CHECKING:
    from fedasr.engine.worker import WorkerContext


def tensor_bytes(*tensors: torch.Tensor | None) -> int:
    """Bytes on the wire: element size x elements of every tensor really sent."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


@dataclass
class Broadcast:
    round: int
    params: torch.Tensor  # the full global flat vector (a client reads the prefix it holds)
    lr: float
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
    offset: int = 0  # delta covers [offset, offset + len(delta)): > 0 past a frozen front-end

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
class RoundAccumulator:
    """One shard's partial aggregate; shards merge in a fixed order into the round's total."""

    numel: int
    sums: dict[str, WeightedSum] = field(default_factory=dict)
    plain: dict[str, torch.Tensor] = field(default_factory=dict)
    reports: list[ClientReport] = field(default_factory=list)

    def weighted(self, name: str, numel: int | None = None) -> WeightedSum:
        if name not in self.sums:
            self.sums[name] = WeightedSum(numel or self.numel)
        return self.sums[name]

    def add_plain(self, name: str, tensor: torch.Tensor) -> None:
        current = self.plain.get(name)
        self.plain[name] = tensor.double() if current is None else current + tensor.double()

    def merge(self, other: RoundAccumulator) -> None:
        for name, part in other.sums.items():
            self.weighted(name, part.numel).merge(part)
        for name, tensor in other.plain.items():
            self.add_plain(name, tensor)
        self.reports.extend(other.reports)

    @property
    def succeeded(self) -> int:
        return sum(report.ok for report in self.reports)


@dataclass
class ServerState:
    params: torch.Tensor
    optimizer: dict[str, torch.Tensor]
    round: int = 0
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class Algorithm(Protocol):
    name: str

    def broadcast(self, server: ServerState, round_index: int, lr: float) -> Broadcast: ...

    def client_update(
        self, worker: WorkerContext, task: ClientTask, broadcast: Broadcast
    ) -> ClientResult: ...

    def accumulate(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport: ...

    def server_update(self, server: ServerState, acc: RoundAccumulator) -> dict[str, Any]: ...
