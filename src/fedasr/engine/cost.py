"""Round and cumulative cost totals, summed from what every client reported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from fedasr.algorithms.base import ClientCost, ClientReport


@dataclass
class CostTotals:
    bytes_down: int = 0
    bytes_up: int = 0
    examples: int = 0  # client example-passes (ALGORITHMS.md §2 cost C)
    audio_seconds: float = 0.0
    steps: int = 0
    flops: float = 0.0
    client_wall_s: float = 0.0

    @property
    def bytes_total(self) -> int:
        return self.bytes_down + self.bytes_up

    def add(self, cost: ClientCost) -> None:
        self.bytes_down += cost.bytes_down
        self.bytes_up += cost.bytes_up
        self.examples += cost.examples
        self.audio_seconds += cost.audio_seconds
        self.steps += cost.steps
        self.flops += cost.flops
        self.client_wall_s += cost.wall_s

    def merged(self, other: CostTotals) -> CostTotals:
        return CostTotals(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "bytes_total": self.bytes_total,
            "audio_hours": self.audio_seconds / 3600,
        }


def round_costs(reports: Iterable[ClientReport]) -> CostTotals:
    """Costs of every client that ran, failed ones included: their compute was spent."""
    totals = CostTotals()
    for report in reports:
        totals.add(report.cost)
    return totals
