"""Device heterogeneity as two plug-ins (engine/plugins.py), built when `devices.tiers` is set.

DevicePlugin: gives every sampled client its tier and exit budget (`ClientTask.tier`, `.depth`;
the algorithm turns the budget into the client's model spec), lets only online clients (and,
for baselines, only the `participate` tiers) be sampled, and logs costs per tier.
ClockPlugin: the simulated clock (devices/clock.py): drops stragglers before they train when a
deadline or over-selection asks for it, and logs `sim_round_s` and the cumulative `sim_time_s`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from fedasr.algorithms.base import ClientReport, ClientTask
from fedasr.devices.clock import Cut, WorkloadPlanner, attempt_seconds, client_seconds, cut_round
from fedasr.devices.fleet import Fleet
from fedasr.devices.schema import ClockSection, DevicesSection
from fedasr.engine.plugins import Plugin

COST_KEYS = ("bytes_down", "bytes_up", "examples", "audio_seconds", "steps", "flops", "wall_s")


class DevicePlugin(Plugin):
    name = "devices"

    def __init__(self, section: DevicesSection, fleet: Fleet, client_ids: Sequence[str]) -> None:
        self.section = section
        self.fleet = fleet
        self.index_of = {client_id: i for i, client_id in enumerate(client_ids)}
        self.available = 0  # clients that could be sampled in the current round
        self.totals: dict[str, dict[str, float]] = {}  # cumulative costs per tier

    def eligible(self, round_index: int, clients: list[int]) -> list[int]:
        online = self.fleet.available(round_index)
        allowed = set(self.section.participate or self.fleet.tier_names)
        kept = [c for c in clients if online[c] and self.fleet.tier(c) in allowed]
        self.available = len(kept)
        return kept

    def assign(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        """Each client's tier and deepest exit (0 in the fleet: the full model)."""
        return [
            dataclasses.replace(
                task,
                tier=self.fleet.tier(task.index),
                depth=int(self.fleet.depths[task.index]) or None,
            )
            for task in tasks
        ]

    def tier_of(self, client_id: str) -> str:
        return self.fleet.tier(self.index_of[client_id])

    def round_metrics(self, round_index: int, reports: Sequence[ClientReport]) -> dict[str, Any]:
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


class ClockPlugin(Plugin):
    name = "clock"

    def __init__(
        self, section: ClockSection, devices: DevicePlugin, planner: WorkloadPlanner | None
    ) -> None:
        self.section = section
        self.devices = devices
        self.planner = planner  # None: no straggler is cut, the clock only measures
        self.cuts: list[Cut] = []  # one per attempt of the current round
        self.sim_time_s = 0.0

    def select(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        if self.planner is None:
            self.cuts.append(Cut(list(range(len(tasks))), [], False, False, 0.0))
            return tasks
        planner, fleet = self.planner, self.devices.fleet
        times = [planner.seconds(task, fleet.profile(task.index)) for task in tasks]
        cut = cut_round(times, self.section.deadline_s, self.section.keep_first)
        self.cuts.append(cut)
        return [tasks[i] for i in cut.kept]

    def round_metrics(self, round_index: int, reports: Sequence[ClientReport]) -> dict[str, Any]:
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
    reports: Sequence[ClientReport], seconds: Sequence[float], devices: DevicePlugin
) -> dict[str, float]:
    """The slowest client of each tier this round (simulated seconds)."""
    slowest: dict[str, float] = {}
    for report, value in zip(reports, seconds, strict=True):
        tier = devices.tier_of(report.client_id)
        slowest[tier] = max(slowest.get(tier, 0.0), value)
    return slowest
