"""What a tuning study minimizes, and the observer that stops and prunes a trial's run.

Objectives (all minimized):
  wer_at_budget   the metric (e.g. held-out WER) where the cost budget is spent: the run stops
                  after the round whose cumulative cost reaches the budget, and the model of that
                  round is evaluated;
  cost_to_target  the cost at which the metric first reaches the target (interpolated as in
                  fedasr.report.cost; infinity when it never does); the run stops there;
  both            the two at once (a Pareto front): runs go on to the budget.

Pruning (single objective only: Optuna cannot prune multi-objective studies): with a budget,
intermediate step k of K is the latest evaluated metric once k/K of the budget is spent, so
trials of different costs per round are compared at equal cost; without one, the step is the
round of each evaluation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from fedasr.errors import ConfigError
from fedasr.report.cost import CostUnit, cost_to_target, cost_unit, cost_value
from fedasr.report.metrics import Record, metric_value

Objective = Literal["wer_at_budget", "cost_to_target", "both"]
OBJECTIVES: tuple[Objective, ...] = ("wer_at_budget", "cost_to_target", "both")
PRUNERS = ("median", "hyperband", "none")


@dataclass(frozen=True)
class TuneSpec:
    """A study's settings; stored with the study, so a resumed study must repeat them."""

    objective: Objective
    metric: str = "heldout_wer"
    unit: str = "examples"  # cost unit of the budget and of the cost to target
    budget: float | None = None
    target: float | None = None
    pruner: str = "median"
    prune_steps: int = 10  # K: budget checkpoints the pruner compares trials at
    prune_startup: int = 3  # median pruner: finished trials before it stops any

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"--objective {self.objective}: accepted: {', '.join(OBJECTIVES)}")
        cost_unit(self.unit)  # a typo fails here, naming the units
        if self.objective in ("wer_at_budget", "both") and self.budget is None:
            raise ConfigError(
                f"--objective {self.objective} needs --budget (in --unit {self.unit})"
            )
        if self.objective in ("cost_to_target", "both") and self.target is None:
            raise ConfigError(f"--objective {self.objective} needs --target, e.g. 0.3")
        if self.budget is not None and not self.budget > 0:
            raise ConfigError(f"--budget {self.budget}: must be > 0")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"--pruner {self.pruner}: accepted: {', '.join(PRUNERS)}")
        if self.prune_steps < 1:
            raise ConfigError(f"--prune-steps {self.prune_steps}: must be >= 1")
        if self.prune_startup < 0:
            raise ConfigError(f"--prune-startup {self.prune_startup}: must be >= 0")

    @property
    def cost(self) -> CostUnit:
        return cost_unit(self.unit)

    @property
    def directions(self) -> list[Literal["minimize"]]:
        return ["minimize"] * (2 if self.objective == "both" else 1)

    @property
    def prunes(self) -> bool:
        return self.pruner != "none" and self.objective != "both"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrialWatch:
    """The `on_round` observer of one trial's run: reports to the pruner, stops the run when
    the budget is spent, the target reached, or the pruner says so."""

    def __init__(self, spec: TuneSpec, trial: Any) -> None:
        self.spec = spec
        self.trial = trial
        self.latest: float | None = None  # the latest evaluated metric
        self.stopped_by: str | None = None  # budget | target | pruned (None: rounds.total)
        # a retried trial inherits what its first attempt reported
        self.reported = max(getattr(trial, "intermediate_values", None) or {0: 0.0})

    def __call__(self, record: Record) -> bool:
        spec = self.spec
        value = metric_value(record, spec.metric)
        if value is not None:
            self.latest = value
        cost = cost_value(record, spec.cost)
        if spec.prunes and self._report(record, cost) and self.trial.should_prune():
            self.stopped_by = "pruned"
            return True
        spent = spec.budget is not None and cost is not None and cost >= spec.budget
        reached = value is not None and spec.target is not None and value <= spec.target
        if spec.objective == "cost_to_target" and reached:
            self.stopped_by = "target"  # `both` goes on to the budget: it needs the WER there
        elif spent:
            self.stopped_by = "budget"
        return self.stopped_by is not None

    def _report(self, record: Record, cost: float | None) -> bool:
        """Report what is new; True if anything was."""
        if self.latest is None:
            return False
        if self.spec.budget is None:
            if metric_value(record, self.spec.metric) is None:
                return False
            step = int(record.get("round", self.reported + 1))
        else:
            if cost is None:
                return False
            step = min(int(cost / self.spec.budget * self.spec.prune_steps), self.spec.prune_steps)
        if step <= self.reported:
            return False
        # with a budget every checkpoint passed gets a value, so trials line up step by step
        steps = range(self.reported + 1, step + 1) if self.spec.budget is not None else [step]
        for each in steps:
            self.trial.report(self.latest, each)
        self.reported = step
        return True


def objective_values(spec: TuneSpec, records: list[Record]) -> tuple[list[float], dict[str, Any]]:
    """The study's values for one finished trial, and what to record with it."""
    final = records[-1]
    value_at_stop = metric_value(final, spec.metric)
    if value_at_stop is None:
        raise ConfigError(
            f"tune: the trial's last round logs no {spec.metric}; is eval.splits missing its split?"
        )
    attrs: dict[str, Any] = {f"{spec.metric}_at_stop": value_at_stop}
    spent = cost_value(final, spec.cost)
    if spec.budget is not None:
        attrs["budget_spent"] = spent is not None and spent >= spec.budget
    reached_cost = math.inf
    if spec.target is not None:
        reached = cost_to_target(records, spec.metric, spec.target, spec.cost)
        reached_cost = math.inf if reached is None else reached.cost
        attrs[f"{spec.unit}_to_target"] = None if reached is None else reached.cost
        attrs["target_reached_at_round"] = None if reached is None else reached.step
    if spec.objective == "wer_at_budget":
        return [value_at_stop], attrs
    if spec.objective == "cost_to_target":
        return [reached_cost], attrs
    return [value_at_stop, reached_cost], attrs
