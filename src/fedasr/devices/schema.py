"""The `devices:` config section: device tiers, which client is which tier, the simulated clock.

Kept apart from fedasr.config (which only embeds `DevicesSection`) so the device model reads in
one place. An empty `tiers` mapping (the default) switches the whole feature off: every client
trains the full model, is always available, and no simulated time is logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DeviceTier(_Strict):
    """One kind of device. Rates are sustained rates while training, not peak figures."""

    flops_per_s: float = Field(gt=0)  # training throughput in FLOP/s (see models/flops.py)
    downlink_bytes_per_s: float = Field(gt=0)
    uplink_bytes_per_s: float = Field(gt=0)
    availability: float = Field(1.0, ge=0, le=1)  # chance of being online in a given round
    memory_mb: float | None = Field(None, gt=0)  # training memory the device grants us
    # The budget: the deepest exit this device trains. None derives it from memory_mb
    # (models/memory.py), or, without memory_mb, gives the full model.
    max_depth: int | None = Field(None, ge=1)
    # A sparsity budget: the share of the prunable weights this device's model lacks
    # (algorithm.name=pruning: nested masks, a sparser tier holds a subset of a denser one's).
    sparsity: float | None = Field(None, ge=0, lt=1)
    # The model tier (model.tiers) this device trains under a tiered algorithm (FedKAD, FedMD,
    # HeteroFL, per-tier FedAvg); None: the model tier named like this device tier.
    model: str | None = None
    # Later budgets (a maximum width) belong here, next to max_depth, and in
    # devices.fleet.build_fleet, which turns each client's profile into its budget.


class ClockSection(_Strict):
    """Straggler handling on the simulated clock (both off by default: wait for everyone)."""

    deadline_s: float | None = Field(None, gt=0)  # clients slower than this are dropped
    # Over-selection: sample rounds.clients_per_round, aggregate the first keep_first to finish.
    keep_first: int | None = Field(None, ge=1)


class DevicesSection(_Strict):
    tiers: dict[str, DeviceTier] = Field(default_factory=dict)
    # Tier assignment: `clients` names a tier per client id; every other client gets a tier by
    # `shares` (exact counts by largest remainder, shuffled with the seed).
    shares: dict[str, float] = Field(default_factory=dict)  # each >= 0, not all 0
    clients: dict[str, str] = Field(default_factory=dict)
    participate: list[str] | None = None  # only these tiers are ever sampled (baselines)
    depth: Literal["budget", "full"] = "budget"  # "full": every client trains the whole model
    seed: int | None = None  # tier assignment and availability draws; None: the run's seed
    clock: ClockSection = Field(default_factory=ClockSection)

    @property
    def enabled(self) -> bool:
        return bool(self.tiers)

    @model_validator(mode="after")
    def _names_refer_to_tiers(self) -> DevicesSection:
        if not self.tiers:
            used = [
                key
                for key, value in (
                    ("shares", self.shares),
                    ("clients", self.clients),
                    ("participate", self.participate),
                    ("clock.deadline_s", self.clock.deadline_s),
                    ("clock.keep_first", self.clock.keep_first),
                )
                if value
            ]
            if used:
                raise ValueError(f"devices.{used[0]} needs devices.tiers (none is defined)")
            return self
        defined = ", ".join(self.tiers)
        named = [
            *(("shares", tier) for tier in self.shares),
            *(("clients", tier) for tier in self.clients.values()),
            *(("participate", tier) for tier in self.participate or []),
        ]
        for key, tier in named:
            if tier not in self.tiers:
                raise ValueError(f"devices.{key}: no tier {tier!r}; defined tiers: {defined}")
        if any(share < 0 for share in self.shares.values()):
            raise ValueError(f"devices.shares: shares must be >= 0 (got {self.shares})")
        if self.shares and sum(self.shares.values()) <= 0:
            raise ValueError("devices.shares: at least one share must be > 0")
        return self
