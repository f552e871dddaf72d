"""The round loop — the only one. Every algorithm, executor and plug-in plugs into it.

`FederatedRun.run_round` reads as the numbered steps of one round. A client that raises, times
out or returns non-finite values is left out of the aggregate; a round with fewer than
`rounds.min_clients` successes is retried with a fresh cohort, and after `rounds.max_retries`
it is skipped — a failing client never ends a run. Every random choice is a function of
(seed, round, attempt, client), so `--resume` continues bit-identically.

The run is assembled outside the engine (fedasr.experiment): the algorithm, the plug-ins and
the worker recipe arrive ready-made in `RunParts`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.base import Algorithm, RoundAccumulator
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig, RoundsSection
from fedasr.data.bundle import DataBundle
from fedasr.engine.cohort import ClientRegistry, make_tasks, plan_shards, sample_cohort
from fedasr.engine.cost import round_costs
from fedasr.engine.evaluation import SetEvaluators
from fedasr.engine.executors import Executor, make_executor
from fedasr.engine.export import export_sets
from fedasr.engine.outcomes import RunFailedError, no_progress_reason, stall_reason, stalled
from fedasr.engine.plugins import Change, Plateau, Plugin, Progress
from fedasr.engine.progress import RoundProgress
from fedasr.engine.records import all_reports, round_record
from fedasr.engine.run_state import LoopState, load_run_state, save_run_state
from fedasr.engine.rundir import RunDir
from fedasr.engine.worker import WorkerSpec
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout
from fedasr.train.schedule import scheduled_lr

log = logging.getLogger(__name__)
RoundObserver = Callable[[dict[str, Any]], bool]  # sees each round's record; True stops the run


@dataclass
class RunParts:
    """Everything a run is made of, built from its config by fedasr.experiment."""

    config: ExperimentConfig
    run: RunDir
    bundle: DataBundle
    registry: ClientRegistry
    algorithm: Algorithm
    init_params: dict[str, torch.Tensor]
    worker: WorkerSpec
    workers: int
    plugins: list[Plugin]


@dataclass
class RunSummary:
    run_dir: Path
    rounds: int
    best_metric: float
    best_round: int
    final: dict[str, Any]


class FederatedRun:
    def __init__(
        self,
        parts: RunParts,
        *,
        resume: bool = False,
        progress: bool = True,
        on_round: RoundObserver | None = None,
    ) -> None:
        self.parts, self.config, self.run = parts, parts.config, parts.run
        self.algorithm, self.plugins = parts.algorithm, parts.plugins
        self.progress = progress and self.config.logging.progress
        self.on_round = on_round
        self.server = self.algorithm.server.init(parts.init_params)
        self.state = LoopState()
        self.best = Plateau(self.config.eval.early_stopping.min_delta)
        self.evaluators = SetEvaluators(
            self.algorithm.param_dims, parts.bundle, self.config.eval,
            self.config.executor.device, self.algorithm.views,
        )  # fmt: skip
        self.executor: Executor | None = None
        if resume:
            self._restore()

    @property
    def dims(self) -> ConformerDims:
        """The architecture of the main parameter set."""
        return self.algorithm.param_dims[MAIN]

    @property
    def layout(self) -> ParamLayout:
        """The flat layout of the main parameter set."""
        return self.evaluators.by_set[MAIN].flat_model.layout

    # ----------------------------------------------------------------------------- driving
    @contextlib.contextmanager
    def executing(self) -> Iterator[None]:
        """Workers up for the rounds run inside; closed (and the run dir flushed) after."""
        ex = self.config.executor
        self.executor = make_executor(
            ex.kind, self.parts.worker, self.parts.workers, ex.ray_address
        )
        try:
            yield
        finally:
            self.executor.close()
            self.executor = None
            self.run.close()

    def execute(self) -> RunSummary:
        record: dict[str, Any] = {}
        total = self.config.rounds.total
        with self.executing(), RoundProgress(total, self.state.round, self.progress) as bar:
            while self.state.round < total and self.state.stop is None:
                record = self.run_round(self.state.round)
                bar.update(record)
                if self.on_round is not None and self.on_round(record):
                    log.info("stopped by the caller after round %d", self.state.round)
                    self.state.stop = "caller"
            if self.state.rounds_aggregated == 0:  # a run that trained nothing fails
                raise RunFailedError(no_progress_reason(self.state.round, record, self.rounds))
            self._export("model")  # inside: the run directory stays locked until it is written
        state = self.state
        return RunSummary(self.run.path, state.round, state.best_metric, state.best_round, record)

    def run_round(self, r: int) -> dict[str, Any]:
        started = time.perf_counter()
        # 1. the clients' learning rate: the schedule, times every plug-in's factor
        lr = self.client_lr(r)
        # 2. sample a cohort, train it, fold its results (a fresh cohort below min_clients)
        acc, attempts = self._train_cohort(r, lr)
        self._count_skips(acc is not None)
        # 3. the server half turns the round's aggregate into the next server state
        server_metrics: dict[str, Any] = {}
        if acc is not None:
            self.server, server_metrics = self.algorithm.server.update(self.server, acc)
            # 4. plug-ins after aggregation (e.g. server replay)
            for plugin in self.plugins:
                server_metrics.update(self._apply(plugin.after_aggregate(r, self.server)))
        self.server.round = self.state.round = r + 1
        # 5. the round's record: clients, costs, plug-in metrics
        reports = all_reports(attempts)
        costs = round_costs(reports)
        self.state.cumulative = self.state.cumulative.merged(costs)
        record = round_record(r, lr, acc, attempts, costs, self.state.cumulative, server_metrics)
        for plugin in self.plugins:
            record.update(plugin.round_metrics(r, reports))
        # 6. plug-ins that end a run on the clock (a time budget)
        progress = Progress(r + 1, self.state.wall_s, time.perf_counter() - started)
        for plugin in self.plugins:
            record.update(self._apply(plugin.after_round(progress), plugin))
        # 7. evaluate (every eval.every rounds, and at the end), then plug-ins that react
        if self._should_evaluate(r):
            record.update(self._evaluate_and_track())
            for plugin in self.plugins:
                change = plugin.after_evaluation(r, record, self.server)
                record.update(self._apply(change, plugin))
        # 8. log the record, checkpoint
        self.state.wall_s += time.perf_counter() - started
        record["wall_s"] = time.perf_counter() - started
        record["cumulative"]["wall_s"] = self.state.wall_s
        self.run.log(record, step=r + 1)
        stall = stalled(self.state.skipped_in_a_row, self.rounds.stop_after_skipped)
        if self._checkpoint_due(r) or stall:
            self._checkpoint()
        if stall:  # the checkpoint is kept: fix the cause and --resume
            raise RunFailedError(stall_reason(r + 1, record, self.rounds))
        return record

    @property
    def rounds(self) -> RoundsSection:
        return self.config.rounds

    def _count_skips(self, aggregated: bool) -> None:
        self.state.rounds_aggregated += aggregated
        self.state.skipped_in_a_row = 0 if aggregated else self.state.skipped_in_a_row + 1

    def client_lr(self, r: int) -> float:
        client = self.config.client
        lr = scheduled_lr(client.lr, client.lr_schedule, r, self.config.rounds.total)
        for plugin in self.plugins:
            lr *= plugin.lr_factor()
        return lr

    def eligible(self, r: int) -> list[int]:
        clients = list(range(len(self.parts.registry)))
        for plugin in self.plugins:
            clients = plugin.eligible(r, clients)
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
        config, server_half = self.config, self.algorithm.server
        cohort = sample_cohort(
            config.seed, r, attempt, self.eligible(r), config.rounds.clients_per_round
        )
        tasks = make_tasks(self.parts.registry, cohort, config.seed, r)
        for plugin in self.plugins:
            tasks = plugin.assign(r, tasks)
        tasks = [
            dataclasses.replace(task, spec=server_half.spec_for(self.server, task))
            for task in tasks
        ]
        for plugin in self.plugins:
            tasks = plugin.select(r, tasks)
        broadcast = server_half.broadcast(self.server, r, lr)
        assert self.executor is not None, "run rounds inside `with run.executing():`"
        partials = self.executor.run(
            plan_shards(tasks, config.executor.shards), broadcast, self.algorithm.client
        )
        total = RoundAccumulator.for_broadcast(broadcast)
        for partial in partials:  # shard order: the reduction order is fixed by the plan
            total.merge(partial)
        return total

    def _apply(self, change: Change, plugin: Plugin | None = None) -> dict[str, Any]:
        """Apply a plug-in's change to the run; its metrics go into the record."""
        if change.server is not None:
            self.server = change.server
        if change.stop and plugin is not None and self.state.stop is None:
            self.state.stop = plugin.name
        return change.metrics

    # ----------------------------------------------------------------------------- evaluation
    def _is_last(self, r: int) -> bool:
        return r + 1 == self.config.rounds.total

    def _should_evaluate(self, r: int) -> bool:
        last = self._is_last(r) or self.state.stop is not None
        return (r + 1) % self.config.eval.every == 0 or last

    def _evaluate_and_track(self) -> dict[str, Any]:
        record = self.evaluators.evaluate(self.server.params)
        metric = self.config.eval.metric
        value = record.get(metric)
        if value is None:
            return record
        if self.best.observe(value):
            self.state.best_metric, self.state.best_round = value, self.state.round
            self._export("best")
        record["best_" + metric] = self.state.best_metric
        return record

    # ----------------------------------------------------------------------------- persistence
    def _checkpoint_due(self, r: int) -> bool:
        every = self.config.logging.checkpoint_every
        return (r + 1) % every == 0 or self._is_last(r) or self.state.stop is not None

    def _checkpoint(self) -> None:
        keep = self.config.logging.keep_checkpoints
        save_run_state(self.run.checkpoints, self.state, self.server, self.plugins, keep)

    def _restore(self) -> None:
        restored = load_run_state(self.run.checkpoints, self.plugins)
        if restored is None:
            log.info("no checkpoint in %s: starting from round 1", self.run.path)
            self.run.truncate_after(0)
            return
        self.state, self.server = restored
        self.best.best = self.state.best_metric
        self.run.truncate_after(self.state.round)
        log.info("resuming %s after round %d", self.run.path, self.state.round)
        self._lift_stop()

    def _lift_stop(self) -> None:
        """A stop whose plug-in no longer holds it (a larger time budget) is lifted on resume;
        a stop by the caller (a tuner's pruner) too. Early stopping stays final."""
        reason = self.state.stop
        if reason is None:
            return
        if reason.startswith("legacy:"):  # fedasr < 0.2 recorded only that the run stopped
            patience = self.config.eval.early_stopping.patience
            spent = patience is not None and int(reason.split(":")[1]) >= patience
            reason = self.state.stop = "early_stopping" if spent else "time_budget"
        owner = next((p for p in self.plugins if p.name == reason), None)
        progress = Progress(self.state.round, self.state.wall_s, 0.0)
        if reason == "caller" or (owner is not None and not owner.stays_stopped(progress)):
            log.info("continuing after round %d (stopped by %s before)", self.state.round, reason)
            self.state.stop = None

    def _export(self, stem: str) -> None:
        meta = {"run": str(self.run.path), "round": self.state.round}
        for plugin in self.plugins:
            meta.update(plugin.model_metadata(self.server))
        export_sets(
            self.run.path, stem, self.evaluators, self.parts.bundle, self.config.data,
            self.server.params, meta,
        )  # fmt: skip
