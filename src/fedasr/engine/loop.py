"""The round loop — the only one. Every algorithm and executor plugs into it.

    for each round:  sample a cohort -> executor runs its shards -> merge partial aggregates
                     -> algorithm.server_update (server optimizer) -> [evaluate] -> log
                     -> checkpoint
A client that raises, times out or returns non-finite values is left out of the aggregate; a
round with fewer than `rounds.min_clients` successes is retried with a fresh cohort, and after
`rounds.max_retries` it is skipped — a failing client never ends a run. Every random choice is
a function of (seed, round, attempt, client), so `--resume` continues bit-identically.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedasr.algorithms.base import RoundAccumulator, ServerState
from fedasr.algorithms.registry import build_algorithm
from fedasr.config import ExperimentConfig
from fedasr.data.bundle import feature_config
from fedasr.engine.checkpoint import load_latest_checkpoint, save_checkpoint
from fedasr.engine.cohort import make_tasks, plan_shards, sample_cohort
from fedasr.engine.cost import CostTotals, round_costs
from fedasr.engine.evaluation import ServerEvaluator
from fedasr.engine.executors import Executor, make_executor
from fedasr.engine.hooks import build_hooks
from fedasr.engine.opening import open_run
from fedasr.engine.outcomes import (
    RunFailedError,
    failure_entries,
    no_progress_reason,
    round_outcome,
    stall_reason,
    stalled,
)
from fedasr.engine.progress import RoundProgress
from fedasr.models.io import export_model
from fedasr.train.schedule import scheduled_lr

log = logging.getLogger(__name__)


@dataclass
class LoopState:
    """Everything besides tensors that a checkpoint must restore."""

    round: int = 0  # rounds completed
    best_metric: float = math.inf
    best_round: int = 0
    evals_without_improvement: int = 0
    cumulative: CostTotals = field(default_factory=CostTotals)
    wall_s: float = 0.0
    stopped_early: bool = False
    rounds_aggregated: int = 0  # rounds whose cohort reached rounds.min_clients
    skipped_in_a_row: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cumulative"] = asdict(self.cumulative)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopState:
        data = dict(data)
        data["cumulative"] = CostTotals(**data["cumulative"])
        data.setdefault("rounds_aggregated", data["round"])  # a checkpoint older than the field
        return cls(**data)


@dataclass
class RunSummary:
    run_dir: Path
    rounds: int
    best_metric: float
    best_round: int
    final: dict[str, Any]


RoundObserver = Callable[[dict[str, Any]], bool]  # sees each round's record; True stops the run


class FederatedRun:
    def __init__(
        self,
        config: ExperimentConfig,
        *,
        resume: bool = False,
        progress: bool = True,
        on_round: RoundObserver | None = None,
    ) -> None:
        self.config = config
        self.on_round = on_round
        self.progress = progress and config.logging.progress
        # every check passes before the run directory is created or written (engine/opening.py)
        self.run, self.setup = open_run(config, resume=resume, progress=self.progress)
        self.algorithm = build_algorithm(config)
        params = self.setup.init_params
        self.server = ServerState(params, self.algorithm_optimizer_state(params))
        self.state = LoopState()
        self.evaluator = ServerEvaluator(
            self.setup.dims, self.setup.bundle, config.eval, config.executor.device
        )
        self.executor: Executor | None = None
        self.hooks = build_hooks(config)
        for hook in self.hooks:
            hook.prepare(self)
        if resume:
            self._restore()

    def algorithm_optimizer_state(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        server_optimizer = getattr(self.algorithm, "server_optimizer", None)
        return server_optimizer.init_state(params) if server_optimizer is not None else {}

    # ----------------------------------------------------------------------------- driving
    def execute(self) -> RunSummary:
        config = self.config
        self.executor = make_executor(
            config.executor.kind, self.setup.spec, self.setup.workers, config.executor.ray_address
        )
        record: dict[str, Any] = {}
        try:
            with RoundProgress(config.rounds.total, self.state.round, enabled=self.progress) as bar:
                while self.state.round < config.rounds.total and not self.state.stopped_early:
                    record = self.run_round(self.state.round)
                    bar.update(record)
                    if self.on_round is not None and self.on_round(record):
                        log.info("stopped by the caller after round %d", self.state.round)
                        break
            if self.state.rounds_aggregated == 0:  # a run that trained nothing fails
                reason = no_progress_reason(self.state.round, record, config.rounds)
                raise RunFailedError(reason)
            self._export("model.safetensors", self.server.params)
        finally:
            self.executor.close()
            self.run.close()
        return RunSummary(
            self.run.path, self.state.round, self.state.best_metric, self.state.best_round, record
        )

    def run_round(self, r: int) -> dict[str, Any]:
        started = time.perf_counter()
        lr = self.client_lr(r)
        acc, attempts = self._train_cohort(r, lr)
        self.state.rounds_aggregated += acc is not None
        self.state.skipped_in_a_row = 0 if acc is not None else self.state.skipped_in_a_row + 1
        server_metrics: dict[str, Any] = {}
        if acc is not None:
            server_metrics = self.algorithm.server_update(self.server, acc)
            for hook in self.hooks:
                server_metrics.update(hook.after_aggregate(self, r))
        self.server.round = r + 1
        self.state.round = r + 1
        record = self._round_record(r, lr, acc, attempts, server_metrics)
        reports = [report for attempt in attempts for report in attempt.reports]
        for hook in self.hooks:
            record.update(hook.round_metrics(self, r, reports))
        self._check_time_budget(time.perf_counter() - started)
        if self._should_evaluate(r):
            record.update(self._evaluate_and_track())
            for hook in self.hooks:
                record.update(hook.after_evaluation(self, record))
        self.state.wall_s += time.perf_counter() - started
        record["wall_s"] = time.perf_counter() - started
        record["cumulative"]["wall_s"] = self.state.wall_s
        self.run.log(record, step=r + 1)
        stall = stalled(self.state.skipped_in_a_row, self.config.rounds.stop_after_skipped)
        if (
            (r + 1) % self.config.logging.checkpoint_every == 0
            or self._is_last(r)
            or self.state.stopped_early
            or stall
        ):
            self._checkpoint()
        if stall:
            raise RunFailedError(stall_reason(r + 1, record, self.config.rounds))
        return record

    def client_lr(self, r: int) -> float:
        client = self.config.client
        lr = scheduled_lr(client.lr, client.lr_schedule, r, self.config.rounds.total)
        for hook in self.hooks:
            lr *= hook.lr_factor()
        return lr

    def eligible(self, r: int) -> list[int]:
        clients = list(range(len(self.setup.registry)))
        for hook in self.hooks:
            clients = hook.eligible(r, clients)
        return clients

    # ----------------------------------------------------------------------------- one round
    def _train_cohort(
        self, r: int, lr: float
    ) -> tuple[RoundAccumulator | None, list[RoundAccumulator]]:
        rounds, attempts = self.config.rounds, []
        for attempt in range(rounds.max_retries + 1):
            acc = self._attempt(r, attempt, lr)
            attempts.append(acc)
            if acc.succeeded >= min(rounds.min_clients, rounds.clients_per_round):
                return acc, attempts
            then = "retrying with a fresh cohort" if attempt < rounds.max_retries else "skipping"
            log.warning(
                "round %d attempt %d: %d of %d clients succeeded (< rounds.min_clients=%d); %s",
                r + 1, attempt + 1, acc.succeeded, len(acc.reports), rounds.min_clients, then,
            )  # fmt: skip
        return None, attempts

    def _attempt(self, r: int, attempt: int, lr: float) -> RoundAccumulator:
        config, registry = self.config, self.setup.registry
        cohort = sample_cohort(
            config.seed, r, attempt, self.eligible(r), config.rounds.clients_per_round
        )
        tasks = make_tasks(registry, cohort, config.seed, r)
        for hook in self.hooks:
            tasks = hook.select(r, tasks)
        shards = plan_shards(tasks, config.executor.shards)
        broadcast = self.algorithm.broadcast(self.server, r, lr)
        assert self.executor is not None
        partials = self.executor.run(shards, broadcast)
        total = RoundAccumulator(self.setup.layout.numel)
        for partial in partials:  # shard order: the reduction order is fixed by the plan
            total.merge(partial)
        return total

    def _round_record(
        self,
        r: int,
        lr: float,
        acc: RoundAccumulator | None,
        attempts: list[RoundAccumulator],
        server: dict[str, Any],
    ) -> dict[str, Any]:
        reports = [report for attempt in attempts for report in attempt.reports]
        costs = round_costs(reports)
        self.state.cumulative = self.state.cumulative.merged(costs)
        ok = [report for report in (acc.reports if acc else []) if report.ok]
        weights = np.array([report.log_weight for report in ok])
        seconds = [report.cost.audio_seconds for report in ok]
        losses = [report.loss_per_frame * sec for report, sec in zip(ok, seconds, strict=True)]
        loss = sum(losses) / max(sum(seconds), 1e-9)
        return {
            "round": r + 1,
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
            "cumulative": self.state.cumulative.as_dict(),
            **{f"server_{k}": v for k, v in server.items()},
        }

    # ----------------------------------------------------------------------------- evaluation
    def _is_last(self, r: int) -> bool:
        return r + 1 == self.config.rounds.total

    def _should_evaluate(self, r: int) -> bool:
        last = self._is_last(r) or self.state.stopped_early
        return (r + 1) % self.config.eval.every == 0 or last

    def _check_time_budget(self, round_seconds: float) -> None:
        budget = self.config.rounds.time_budget_min
        if budget is not None and self.state.wall_s + round_seconds > 60 * budget:
            log.info("rounds.time_budget_min=%s reached after round %d", budget, self.state.round)
            self.state.stopped_early = True

    def _evaluate_and_track(self) -> dict[str, Any]:
        record, _ = self.evaluator.evaluate(self.server.params)
        metric = record.get(self.config.eval.metric)
        if metric is None:
            return record
        early = self.config.eval.early_stopping
        if metric < self.state.best_metric - early.min_delta:
            self.state.best_metric, self.state.best_round = metric, self.state.round
            self.state.evals_without_improvement = 0
            self._export("best.safetensors", self.server.params)
        else:
            self.state.evals_without_improvement += 1
            if (
                early.patience is not None
                and self.state.evals_without_improvement >= early.patience
            ):
                log.info(
                    "early stopping: %s did not improve for %d evaluations",
                    self.config.eval.metric,
                    early.patience,
                )
                self.state.stopped_early = True
        record["best_" + self.config.eval.metric] = self.state.best_metric
        return record

    # ----------------------------------------------------------------------------- persistence
    def _checkpoint(self) -> None:
        tensors = {"params": self.server.params}
        tensors.update({f"optimizer.{k}": v for k, v in self.server.optimizer.items()})
        tensors.update({f"extras.{k}": v for k, v in self.server.extras.items()})
        state = {
            "loop": self.state.to_json(),
            "hooks": {h.name: h.state_dict() for h in self.hooks},
        }
        keep = self.config.logging.keep_checkpoints
        save_checkpoint(self.run.checkpoints, self.state.round, tensors, state, keep)

    def _restore(self) -> None:
        found = load_latest_checkpoint(self.run.checkpoints)  # the newest readable one
        if found is None:
            log.info("no checkpoint in %s: starting from round 1", self.run.path)
            self.run.truncate_metrics(lambda record: False)
            return
        tensors, state = found.tensors, found.state
        self.server.params = tensors["params"]
        self.server.optimizer = {
            k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("optimizer.")
        }
        self.server.extras = {
            k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("extras.")
        }
        self.state = LoopState.from_json(state["loop"])
        for hook in self.hooks:
            hook.load_state_dict(state.get("hooks", {}).get(hook.name, {}))
        self.server.round = self.state.round
        self.run.truncate_metrics(lambda record: record.get("round", 0) <= self.state.round)
        log.info("resuming %s after round %d", self.run.path, self.state.round)
        self._lift_time_budget_stop()

    def _lift_time_budget_stop(self) -> None:
        """A run its time budget stopped goes on when resumed with a larger budget or none
        (`--resume DIR rounds.time_budget_min=null`); a run early stopping ended stays ended."""
        patience = self.config.eval.early_stopping.patience
        # the only other stop is early stopping, and it stops only once its patience is spent
        patience_spent = patience is not None and self.state.evals_without_improvement >= patience
        budget = self.config.rounds.time_budget_min
        budget_spent = budget is not None and self.state.wall_s >= 60 * budget
        if self.state.stopped_early and not patience_spent and not budget_spent:
            log.info("rounds.time_budget_min is now %s: continuing after round %d",
                     budget, self.state.round)  # fmt: skip
            self.state.stopped_early = False

    def _export(self, name: str, params: torch.Tensor) -> None:
        self.evaluator.load(params)
        bundle = self.setup.bundle
        train = bundle.train
        meta = {"run": str(self.run.path), "round": self.state.round}
        export_model(
            self.run.path / name, self.evaluator.model, bundle.tokenizer, train.mean,
            1 / train.inv_std, feature_config(self.config.data), meta,
        )  # fmt: skip


def run_federated(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_round: RoundObserver | None = None,
) -> RunSummary:
    """Run (or resume) a federated experiment. `on_round` sees every round's metrics record
    after it is logged and checkpointed; returning True stops the run there (e.g. a tuner's
    pruner): the run directory is complete and `--resume` would continue it."""
    return FederatedRun(config, resume=resume, progress=progress, on_round=on_round).execute()
