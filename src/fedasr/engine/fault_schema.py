"""The `faults:` config section: rehearse client failures on purpose (engine/faults.py).

    faults:
      error: {rate: 0.2}                    # 20 % of the clients of every round raise
      nonfinite: {clients: [espeak-01]}     # this client returns a NaN update, every round
      hang: {rate: 0.1, rounds: [2, 3]}     # hang past client.timeout_s in rounds 2 and 3
      kill: {rate: 0.05}                    # SIGKILL their worker process

Kept apart from fedasr.config (which only embeds `FaultsSection`); nothing here imports torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

# the order in which kinds claim their share of [0, 1) (and win ties between client lists)
FAULT_KINDS = ("error", "nonfinite", "hang", "hang_native", "kill")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FaultChoice(_Strict):
    """Which clients get a fault: a `rate` (each sampled client, drawn per (seed, round,
    client)) or a list of client ids; optionally only in some rounds (1-based)."""

    rate: float | None = Field(None, ge=0, le=1)
    clients: list[str] | None = None
    rounds: list[int] | None = None

    @model_validator(mode="after")
    def _one_way_to_choose(self) -> FaultChoice:
        if (self.rate is None) == (self.clients is None):
            raise ValueError("give exactly one of `rate` (0..1) or `clients` (a list of ids)")
        if self.rounds is not None and any(r < 1 for r in self.rounds):
            raise ValueError(f"rounds are 1-based; got {self.rounds}")
        return self


class FaultsSection(_Strict):
    """Injected client faults, for rehearsing failures. All off by default."""

    error: FaultChoice | None = None  # the client raises an exception
    nonfinite: FaultChoice | None = None  # the client returns a non-finite (NaN) update
    hang: FaultChoice | None = None  # blocks in Python until client.timeout_s stops it
    # blocks with SIGALRM masked, as a stuck native call would: only a process that can be
    # killed recovers (executor.kind=process or ray)
    hang_native: FaultChoice | None = None
    kill: FaultChoice | None = None  # SIGKILLs its worker process (simulated on serial)
    seed: int | None = Field(None, ge=0)  # None: the run's seed

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultsSection:
        total = sum(c.rate or 0.0 for c in self.choices().values())
        if total > 1 + 1e-9:
            raise ValueError(f"the rates add up to {total:g}; accepted: at most 1")
        return self

    def choices(self) -> dict[str, FaultChoice]:
        """The kinds that are on, in FAULT_KINDS order."""
        found = {kind: getattr(self, kind) for kind in FAULT_KINDS}
        return {kind: choice for kind, choice in found.items() if choice is not None}

    @property
    def enabled(self) -> bool:
        return bool(self.choices())
