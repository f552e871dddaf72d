"""One summary row per run: best/final WER, rounds to a target WER, speed-up, WERR and totals.

The target defaults to the first run's best value of the report metric, so "rounds to target"
reads as "rounds to reach the baseline's WER" and the speed-up is the one defined in
shared/ALGORITHMS.md: baseline rounds ÷ the run's rounds to reach that WER.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from fedasr.report.metrics import (
    Point,
    Record,
    Run,
    best_point,
    final_point,
    metric_value,
    reach_record,
    record_step,
    rounds_to_reach,
    speedup,
    werr,
)

WER_KEYS = ("test_wer", "heldout_wer")


@dataclass
class Target:
    """The WER every run is timed to; `source` says where it came from, for captions."""

    metric: str
    value: float | None
    source: str
    baseline_rounds: int | None = None
    step_name: str = "round"


@dataclass
class SummaryRow:
    label: str
    path: str
    kind: str  # "federated" or "centralized"
    step_name: str  # "round" or "epoch"
    steps: int
    best: dict[str, Point | None] = field(default_factory=dict)
    final: dict[str, Point | None] = field(default_factory=dict)
    rounds_to_target: int | None = None
    examples_to_target: float | None = None
    speedup: float | None = None
    werr: float | None = None
    bytes_total: float | None = None
    client_flops: float | None = None
    examples: float | None = None
    audio_hours: float | None = None
    wall_s: float | None = None
    failures: int | None = None
    epsilon: float | None = None  # DP runs: the privacy spent, (ε, δ) (trust/privacy.py)
    delta: float | None = None


def choose_target(runs: Sequence[Run], metric: str, value: float | None = None) -> Target:
    """An explicit target, else the first run's best `metric` (None if it never logged one)."""
    if not runs:
        return Target(metric, value, "given")
    first = runs[0]
    if value is not None:
        source = f"{metric} ≤ {value:.4g} (given)"
    else:
        best = best_point(first.records, metric)
        value = best.value if best else None
        source = f"best {metric} of {first.label}"
    baseline = None if value is None else rounds_to_reach(first.records, metric, value)
    return Target(metric, value, source, baseline, first.step_name)


def summary_rows(
    runs: Sequence[Run], metric: str = "heldout_wer", target: Target | None = None
) -> list[SummaryRow]:
    """A row per run, compared with the first run (the baseline)."""
    target = target or choose_target(runs, metric)
    base_best = best_point(runs[0].records, metric) if runs else None
    baseline_step = runs[0].step_name if runs else "round"
    return [_row(run, target, base_best, baseline_step) for run in runs]


def _row(run: Run, target: Target, base_best: Point | None, baseline_step: str) -> SummaryRow:
    records = run.records
    keys = dict.fromkeys([*WER_KEYS, target.metric])  # ordered, no duplicates
    row = SummaryRow(
        label=run.label,
        path=str(run.path),
        kind="centralized" if run.centralized else "federated",
        step_name=run.step_name,
        steps=max((record_step(r, i) for i, r in enumerate(records, 1)), default=0),
        best={key: best_point(records, key) for key in keys},
        final={key: final_point(records, key) for key in keys},
        bytes_total=last_value(records, "cumulative.bytes_total"),
        client_flops=last_value(records, "cumulative.flops"),
        examples=last_value(records, "cumulative.examples"),
        audio_hours=last_value(records, "cumulative.audio_hours"),
        wall_s=wall_seconds(run),
        failures=failure_count(records),
    )
    row.epsilon, row.delta = privacy_spent(records)
    best = row.best[target.metric]
    row.werr = werr(base_best.value if base_best else None, best.value if best else None)
    if target.value is not None:
        reached = reach_record(records, target.metric, target.value)
        if reached is not None:
            row.rounds_to_target = record_step(reached, records.index(reached) + 1)
            row.examples_to_target = metric_value(reached, "cumulative.examples")
        # rounds and epochs are different units: no speed-up across them
        if run.step_name == baseline_step:
            row.speedup = speedup(target.baseline_rounds, row.rounds_to_target)
    return row


def last_value(records: Sequence[Record], key: str) -> float | None:
    """The latest logged value of `key` (cumulative totals live on every record)."""
    for record in reversed(records):
        value = metric_value(record, key)
        if value is not None:
            return value
    return None


def wall_seconds(run: Run) -> float | None:
    """Total wall time: the loop's cumulative clock, else the centralized trainer's elapsed."""
    cumulative = last_value(run.records, "cumulative.wall_s")
    if cumulative is not None:
        return cumulative
    if run.centralized:  # its wall_s is time since the start of training
        return last_value(run.records, "wall_s")
    per_round = [v for r in run.records if (v := metric_value(r, "wall_s")) is not None]
    return sum(per_round) if per_round else None


def privacy_spent(records: Sequence[Record]) -> tuple[float | None, float | None]:
    """(ε, δ) after the last private round (ε may be infinite: a round without noise)."""
    for record in reversed(records):
        dp = (record.get("server_trust") or {}).get("dp")
        if isinstance(dp, dict) and "epsilon" in dp:  # null: infinite (a round without noise)
            spent = dp["epsilon"]
            return (math.inf if spent is None else float(spent)), float(dp["delta"])
    return None, None


def failure_count(records: Sequence[Record]) -> int | None:
    """Failed client updates over the run (all attempts); None when nothing was logged."""
    total, seen = 0, False
    for record in records:
        failed = metric_value(record, "clients.failed")
        if failed is None and isinstance(record.get("failures"), list):
            failed = float(len(record["failures"]))
        if failed is not None:
            total, seen = total + int(failed), True
    return total if seen else None
