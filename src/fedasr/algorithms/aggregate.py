"""Aggregation maths, as small pure pieces with hand-checked tests.

`WeightedSum` is a running weighted sum of client vectors that may cover only some coordinates
of the parameter vector (algorithms/coordinates.py): early-exit clients hold the first blocks
only (a prefix), a client with a frozen front-end sends the range after it, a width-sliced or
pruned client sends an arbitrary index set; each coordinate is averaged over the clients that
hold it. Weights are kept
in the log domain with a running shift, so exp(-beta * loss) weights (DGA) can be tiny without
underflowing, and partial sums computed on different workers merge exactly like one sum.
Sums are float64: the order of additions is fixed by the shard plan, and float64 keeps the
result of that order close to the exact one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from fedasr.algorithms.coordinates import Coords, Span


def all_finite(vector: torch.Tensor) -> bool:
    """Whether every coordinate is finite. A non-finite coordinate makes the sum non-finite,
    so a finite sum settles it in one pass without a mask (30x faster on a client's delta);
    only a sum that overflows needs the exact check."""
    return bool(torch.isfinite(vector.sum())) or bool(torch.isfinite(vector).all())


@dataclass
class WeightedSum:
    numel: int
    total: torch.Tensor | None = None  # float64 (numel,), scaled by exp(-shift)
    # total (scaled) weight per covered range [start, stop) of coordinates
    weight_by_range: dict[tuple[int, int], float] = field(default_factory=dict)
    # total (scaled) weight per named index set, and the sets themselves
    weight_by_index: dict[str, float] = field(default_factory=dict)
    indices: dict[str, torch.Tensor] = field(default_factory=dict)
    shift: float = -math.inf
    count: int = 0

    def add(self, vector: torch.Tensor, log_weight: float, where: Coords | int = 0) -> None:
        """Add exp(log_weight) * vector at the coordinates `where` (a Span or an Index; an int
        is the start of a span as long as the vector)."""
        if not math.isfinite(log_weight):
            raise ValueError("a non-finite weight must be filtered out before aggregation")
        if isinstance(where, int):
            where = Span(where, where + vector.numel())
        self._check(where, vector)
        self._rescale_to(max(self.shift, log_weight))
        scale = math.exp(log_weight - self.shift)
        if self.total is None:
            self.total = torch.zeros(self.numel, dtype=torch.float64)
        if isinstance(where, Span):
            self.total[where.start : where.stop].add_(vector.to(torch.float64), alpha=scale)
            key = (where.start, where.stop)
            self.weight_by_range[key] = self.weight_by_range.get(key, 0.0) + scale
        else:
            self.total.index_add_(0, where.index, vector.to(torch.float64), alpha=scale)
            self.indices.setdefault(where.name, where.index)
            self.weight_by_index[where.name] = self.weight_by_index.get(where.name, 0.0) + scale
        self.count += 1

    def _check(self, where: Coords, vector: torch.Tensor) -> None:
        if vector.numel() != where.numel:
            raise ValueError(f"{vector.numel()} values for {where.numel} coordinates")
        if isinstance(where, Span):
            if where.start < 0 or where.stop > self.numel:
                raise ValueError(
                    f"range [{where.start}, {where.stop}) is outside the {self.numel} coordinates"
                )
            return
        index = where.index
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.numel):
            raise ValueError(f"index {where.name!r} is outside the {self.numel} coordinates")
        known = self.indices.get(where.name)
        if known is not None and known is not index and not torch.equal(known, index):
            raise ValueError(f"two different index sets are both named {where.name!r}")

    def merge(self, other: WeightedSum) -> None:
        """Add another partial sum (from another shard) into this one."""
        if other.total is None:
            return
        self._rescale_to(max(self.shift, other.shift))
        scale = math.exp(other.shift - self.shift)
        if self.total is None:
            self.total = torch.zeros(self.numel, dtype=torch.float64)
        self.total.add_(other.total, alpha=scale)
        for key, weight in other.weight_by_range.items():
            self.weight_by_range[key] = self.weight_by_range.get(key, 0.0) + weight * scale
        for name, weight in other.weight_by_index.items():
            self.indices.setdefault(name, other.indices[name])
            self.weight_by_index[name] = self.weight_by_index.get(name, 0.0) + weight * scale
        self.count += other.count

    def _rescale_to(self, new_shift: float) -> None:
        if new_shift == self.shift:
            return
        if self.total is not None and math.isfinite(self.shift):
            factor = math.exp(self.shift - new_shift)
            self.total.mul_(factor)
            self.weight_by_range = {k: w * factor for k, w in self.weight_by_range.items()}
            self.weight_by_index = {k: w * factor for k, w in self.weight_by_index.items()}
        self.shift = new_shift

    def coordinate_weights(self) -> torch.Tensor:
        """float64 (numel,): the total (scaled) weight that reached each coordinate."""
        weights = torch.zeros(self.numel, dtype=torch.float64)
        for (start, stop), weight in self.weight_by_range.items():
            weights[start:stop] += weight
        for name, weight in self.weight_by_index.items():
            index = self.indices[name]
            weights.index_add_(0, index, torch.full((index.numel(),), weight, dtype=torch.float64))
        return weights

    def mean(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weighted mean as float32, mask of coordinates some client covered)."""
        if self.total is None:
            return torch.zeros(self.numel), torch.zeros(self.numel, dtype=torch.bool)
        weights = self.coordinate_weights()
        covered = weights > 0
        mean = torch.where(covered, self.total / weights.clamp(min=1e-300), torch.zeros(()))
        return mean.float(), covered


def weighted_mean(vectors: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """Reference implementation for tests: sum_k w_k v_k / sum_k w_k over full vectors."""
    total = sum(w * v.double() for w, v in zip(weights, vectors, strict=True))
    return (total / sum(weights)).float()  # type: ignore[union-attr]


def log_weight_examples(examples: int) -> float:
    return math.log(examples) if examples > 0 else -math.inf


def log_weight_dga(statistic: float, beta: float, cap: float | None) -> float:
    """DGA: w = exp(-beta * statistic), capped at `cap` (FLUTE caps the raw weight at 100);
    a non-finite statistic gives weight 0 (log weight -inf)."""
    if not math.isfinite(statistic):
        return -math.inf
    log_w = -beta * statistic
    if cap is not None:
        log_w = min(log_w, math.log(cap))
    return log_w
