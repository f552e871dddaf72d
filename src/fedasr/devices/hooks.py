"""Device heterogeneity as two round hooks (engine/hooks.py), built when `devices.tiers` is set.

DeviceHook: assigns tiers, sets each client's exit budget in the client registry (which puts it
in every ClientTask, so the worker trains at that depth), lets only online clients (and, for
baselines, only the `participate` tiers) be sampled, and logs costs per tier.
ClockHook: the simulated clock (devices/clock.py): drops stragglers before they train when a
deadline or over-selection asks for it, and logs `sim_round_s` and the cumulative `sim_time_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fedasr.algorithms.base import ClientReport, ClientTask
from fedasr.algorithms.registry import parse_options
from fedasr.data.batching import seconds_to_frames
from fedasr.devices.clock import Cut, WorkloadPlanner, attempt_seconds, client_seconds, cut_round
from fedasr.devices.fleet import Fleet, build_fleet
from fedasr.devices.schema import ClockSection, DevicesSection
from fedasr.engine.hooks import RoundHook
from fedasr.errors import ConfigError

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig
    from fedasr.engine.loop import FederatedRun

log = logging.getLogger(__name__)
COST_KEYS = ("bytes_down", "bytes_up", "examples", "audio_seconds", "steps", "flops", "wall_s")


class DeviceHook(RoundHook):
    name = "devices"

    def __init__(self, section: DevicesSection) -> None:
        self.section = section
        self._fleet: Fleet | None = None
        self.index_of: dict[str, int] = {}
        self.available = 0  # clients that could be sampled in the current round
        self.totals: dict[str, dict[str, float]] = {}  # cumulative costs per tier

    @property
    def fleet(self) -> Fleet:
        if self._fleet is None:
            raise RuntimeError("DeviceHook.prepare has not run")
        return self._fleet

    def prepare(self, run: FederatedRun) -> None:
        setup, client = run.setup, run.config.client
        self._fleet = build_fleet(
            self.section, setup.registry.ids, run.config.seed, setup.dims, setup.layout,
            client.batch_seconds, client.optimizer,
        )  # fmt: skip
        setup.registry = setup.registry.with_depths(self.fleet.depths)
        self.index_of = {client_id: i for i, client_id in enumerate(setup.registry.ids)}
        exits = len(setup.dims.exits)
        budgets = {
            name: int(self.fleet.depths[self.fleet.tier_of == i].max(initial=0)) or exits
            for i, name in enumerate(self.fleet.tier_names)
        }
        log.info("device tiers %s, exit budgets %s", self.fleet.counts(), budgets)

    def eligible(self, round_index: int, clients: list[int]) -> list[int]:
        online = self.fleet.available(round_index)
        allowed = set(self.section.participate or self.fleet.tier_names)
        kept = [c for c in clients if online[c] and self.fleet.tier(c) in allowed]
        self.available = len(kept)
        return kept

    def tier_of(self, client_id: str) -> str:
        return self.fleet.tier(self.index_of[client_id])

    def round_metrics(
        self, run: FederatedRun, round_index: int, reports: list[ClientReport]
    ) -> dict[str, Any]:
        tiers: dict[str, dict[str, float]] = {}
        for report in reports:
            row = tiers.setdefault(self.tier_of(report.client_id), _empty_row())
            row["clients"] += 1
            row["succeeded"] += int(report.ok)
            cost = asdict(report.cost)
            for key in COST_KEYS:
                row[key] += cost[key]
        for tier, row in tiers.items():
            total = self.totals.setdefault(tier, _empty_row())
            for key, value in row.items():
                total[key] += value
        summary = {"available": self.available, "tiers": tiers, "tiers_cumulative": self.totals}
        return {"devices": summary}

    def state_dict(self) -> dict[str, Any]:
        return {"totals": self.totals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.totals = {tier: dict(row) for tier, row in state.get("totals", {}).items()}


def _empty_row() -> dict[str, float]:
    return {"clients": 0, "succeeded": 0, **{key: 0 for key in COST_KEYS}}


class ClockHook(RoundHook):
    name = "clock"

    def __init__(self, section: ClockSection, devices: DeviceHook) -> None:
        self.section = section
        self.devices = devices
        self.planner: WorkloadPlanner | None = None
        self.cuts: list[Cut] = []  # one per attempt of the current round
        self.sim_time_s = 0.0

    @property
    def cuts_stragglers(self) -> bool:
        return self.section.deadline_s is not None or self.section.keep_first is not None

    def prepare(self, run: FederatedRun) -> None:
        if not self.cuts_stragglers:
            return
        config, setup = run.config, run.setup
        train = setup.bundle.train
        self.planner = WorkloadPlanner(
            dims=setup.dims,
            layout=setup.layout,
            lengths=train.lengths,
            max_frames=seconds_to_frames(config.client.batch_seconds, train.store),
            local_epochs=config.client.local_epochs,
            max_steps=config.client.max_steps,
            frozen_frontend=bool(getattr(parse_options(config), "freeze_frontend", False)),
        )

    def select(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        if self.planner is None:
            self.cuts.append(Cut(list(range(len(tasks))), [], False, False, 0.0))
            return tasks
        planner, fleet = self.planner, self.devices.fleet
        times = [planner.seconds(task, fleet.profile(task.index)) for task in tasks]
        cut = cut_round(times, self.section.deadline_s, self.section.keep_first)
        self.cuts.append(cut)
        return [tasks[i] for i in cut.kept]

    def round_metrics(
        self, run: FederatedRun, round_index: int, reports: list[ClientReport]
    ) -> dict[str, Any]:
        seconds = [self._report_seconds(report) for report in reports]
        round_s, start = 0.0, 0
        for cut in self.cuts:  # reports come attempt by attempt, one per client that ran
            measured = seconds[start : start + len(cut.kept)]
            round_s += attempt_seconds(cut, measured, self.section.deadline_s)
            start += len(cut.kept)
        stragglers = sum(len(cut.dropped) for cut in self.cuts)
        self.cuts = []
        self.sim_time_s += round_s
        return {
            "sim_round_s": round_s,
            "sim_time_s": self.sim_time_s,
            "sim_stragglers": stragglers,
            "sim_client_s": _by_tier(reports, seconds, self.devices),
        }

    def _report_seconds(self, report: ClientReport) -> float:
        profile = self.devices.fleet.profile(self.devices.index_of[report.client_id])
        cost = report.cost
        return client_seconds(profile, cost.flops, cost.bytes_down, cost.bytes_up)

    def state_dict(self) -> dict[str, Any]:
        return {"sim_time_s": self.sim_time_s}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sim_time_s = float(state.get("sim_time_s", 0.0))


def _by_tier(
    reports: Sequence[ClientReport], seconds: Sequence[float], devices: DeviceHook
) -> dict[str, float]:
    """The slowest client of each tier this round (simulated seconds)."""
    slowest: dict[str, float] = {}
    for report, value in zip(reports, seconds, strict=True):
        tier = devices.tier_of(report.client_id)
        slowest[tier] = max(slowest.get(tier, 0.0), value)
    return slowest


def device_hooks(config: ExperimentConfig) -> list[RoundHook]:
    section = config.devices
    if not section.enabled:
        return []
    keep_first = section.clock.keep_first
    if keep_first is not None and keep_first > config.rounds.clients_per_round:
        raise ConfigError(
            f"devices.clock.keep_first: {keep_first} is more than the "
            f"rounds.clients_per_round={config.rounds.clients_per_round} sampled"
        )
    devices = DeviceHook(section)
    return [devices, ClockHook(section.clock, devices)]
