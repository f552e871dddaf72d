"""Cost units and the cost to reach a target WER (shared/ALGORITHMS.md §2), as pure functions.

Every federated metrics record carries cumulative totals (engine/cost.py): client
example-passes (cost C), audio hours, client FLOPs, bytes down/up; runs with `devices:` also
log the simulated clock. A cost is read from one record; WER only from evaluated records.

Interpolation, in every function here: linear in cost between two consecutive evaluations.
The cost to reach a target is taken between the last evaluation above the target and the
first at or below it; a run whose first evaluation is already at or below the target reached
it at that evaluation's cost (no earlier point to interpolate from).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fedasr.report.metrics import Record, ReportError, metric_value, record_step

TOLERANCE = 1e-12  # a target is often another run's WER: the same float ratio, reached exactly


@dataclass(frozen=True)
class CostUnit:
    name: str
    key: str  # where a metrics record holds the cumulative value ("cumulative.flops")
    label: str  # axis and table text
    scale: float = 1.0  # logged value x scale = value in this unit


UNITS: dict[str, CostUnit] = {
    unit.name: unit
    for unit in (
        CostUnit("examples", "cumulative.examples", "client example-passes (cost C)"),
        CostUnit("audio_hours", "cumulative.audio_hours", "client audio hours"),
        CostUnit("flops", "cumulative.flops", "client FLOPs"),
        CostUnit("bytes_up", "cumulative.bytes_up", "bytes up (clients → server)"),
        CostUnit("bytes_down", "cumulative.bytes_down", "bytes down (server → clients)"),
        CostUnit("bytes", "cumulative.bytes_total", "bytes down + up"),
        CostUnit("sim_hours", "sim_time_s", "simulated device hours", 1 / 3600),
        CostUnit("rounds", "round", "rounds"),
        # the machine's clock: not reproducible elsewhere, but what a user pays on one machine
        CostUnit("wall_hours", "cumulative.wall_s", "wall-clock hours (this machine)", 1 / 3600),
    )
}


def cost_unit(name: str) -> CostUnit:
    """The unit called `name`; an error naming the accepted units otherwise."""
    try:
        return UNITS[name]
    except KeyError:
        raise ReportError(f"cost unit {name!r}: not known; accepted: {', '.join(UNITS)}") from None


def cost_value(record: Record, unit: CostUnit) -> float | None:
    """The cumulative cost in `unit` after this record's round; None where it is not logged."""
    value = metric_value(record, unit.key)
    return None if value is None else value * unit.scale


def logs_unit(records: Sequence[Record], unit: CostUnit) -> bool:
    return any(cost_value(record, unit) is not None for record in records)


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation: its round, the metric, and the cumulative cost in one unit."""

    step: int
    value: float
    cost: float


def eval_points(records: Sequence[Record], metric: str, unit: CostUnit) -> list[EvalPoint]:
    """Every record that logs both `metric` and the cost, in order."""
    points = []
    for position, record in enumerate(records, start=1):
        value, cost = metric_value(record, metric), cost_value(record, unit)
        if value is not None and cost is not None:
            points.append(EvalPoint(record_step(record, position), value, cost))
    return points


@dataclass(frozen=True)
class Reached:
    """Where a run reached the target: the interpolated cost and the evaluations around it."""

    cost: float
    step: int  # the first evaluated round at or below the target
    before: EvalPoint | None  # the last evaluation above it (None: the first one reached)
    after: EvalPoint

    def how(self) -> str:
        if self.before is None:
            return f"at the first evaluation (round {self.after.step})"
        return f"between rounds {self.before.step} and {self.after.step}"


def cost_to_target(
    records: Sequence[Record], metric: str, target: float, unit: CostUnit
) -> Reached | None:
    """The cost at which `metric` first reaches `target` (lower is better); None if never."""
    before: EvalPoint | None = None
    for point in eval_points(records, metric, unit):
        if point.value <= target + TOLERANCE:
            if before is None:
                return Reached(point.cost, point.step, None, point)
            share = (before.value - target) / (before.value - point.value)
            cost = before.cost + min(max(share, 0.0), 1.0) * (point.cost - before.cost)
            return Reached(cost, point.step, before, point)
        before = point
    return None


def metric_at_cost(
    records: Sequence[Record], metric: str, budget: float, unit: CostUnit
) -> float | None:
    """`metric` at cumulative cost `budget`, linear between the evaluations around it.

    None when the run's evaluations do not reach that far (or start after it): a value
    extrapolated past the last evaluation would be a guess.
    """
    points = eval_points(records, metric, unit)
    for before, after in itertools.pairwise(points):
        if before.cost <= budget <= after.cost:
            if after.cost == before.cost:
                return after.value
            share = (budget - before.cost) / (after.cost - before.cost)
            return before.value + share * (after.value - before.value)
    if points and abs(points[-1].cost - budget) <= TOLERANCE * max(1.0, abs(budget)):
        return points[-1].value
    return None


def total_costs(records: Sequence[Record]) -> dict[str, float]:
    """The run's final cumulative cost in every unit it logs."""
    totals: dict[str, float] = {}
    for unit in UNITS.values():
        for record in reversed(records):
            value = cost_value(record, unit)
            if value is not None:
                totals[unit.name] = value
                break
    return totals
