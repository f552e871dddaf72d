"""The round's metrics record: what the clients did, what it cost, how the weights were shared."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedasr.algorithms.base import ClientReport, RoundAccumulator
from fedasr.engine.cost import CostTotals
from fedasr.engine.outcomes import failure_entries, round_outcome


def all_reports(attempts: Sequence[RoundAccumulator]) -> list[ClientReport]:
    """Every client that ran this round, attempt after attempt (failed ones included)."""
    return [report for attempt in attempts for report in attempt.reports]


def round_record(
    round_index: int,
    lr: float,
    acc: RoundAccumulator | None,
    attempts: Sequence[RoundAccumulator],
    costs: CostTotals,
    cumulative: CostTotals,
    server: dict[str, Any],
) -> dict[str, Any]:
    reports = all_reports(attempts)
    ok = [report for report in (acc.reports if acc else []) if report.ok]
    weights = np.array([report.log_weight for report in ok])
    seconds = [report.cost.audio_seconds for report in ok]
    losses = [report.loss_per_frame * sec for report, sec in zip(ok, seconds, strict=True)]
    loss = sum(losses) / max(sum(seconds), 1e-9)
    return {
        "round": round_index + 1,
        "lr": lr,
        "aggregated": acc is not None,
        # every client run of every attempt; aggregated: the successes of the kept attempt
        "clients": {**round_outcome(reports), "aggregated": len(ok), "attempts": len(attempts)},
        "failures": failure_entries([attempt.reports for attempt in attempts]),
        "train_loss_per_frame": loss if ok else None,
        "weight_share_max": float(np.exp(weights - np.logaddexp.reduce(weights)).max())
        if len(weights)
        else None,
        "cost": costs.as_dict(),
        "cumulative": cumulative.as_dict(),
        **{f"server_{k}": v for k, v in server.items()},
    }
