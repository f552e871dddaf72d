"""Learning-rate schedules over rounds (federated) or epochs (centralized)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedasr.config import LRScheduleSection


def scheduled_lr(base: float, schedule: LRScheduleSection, t: int, total: int) -> float:
    """Learning rate at round/epoch `t` (0-based) out of `total`."""
    if schedule.warmup and t < schedule.warmup:
        return base * (t + 1) / (schedule.warmup + 1)
    t_after = t - schedule.warmup
    if schedule.kind == "constant":
        lr = base
    elif schedule.kind == "exponential":
        lr = base * schedule.gamma**t_after
    elif schedule.kind == "step":
        lr = base * schedule.gamma ** (t_after // schedule.every)
    else:  # cosine
        span = max(total - schedule.warmup - 1, 1)
        lr = schedule.min_lr + 0.5 * (base - schedule.min_lr) * (
            1 + math.cos(math.pi * min(t_after / span, 1.0))
        )
    return max(lr, schedule.min_lr)
