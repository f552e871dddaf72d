"""The plug-ins a config asks for, built from the run's setup, in the order the loop calls
them. Adding a plug-in is a class with the `engine.plugins.Plugin` methods it needs and one
line here; nothing in engine/ changes."""

from __future__ import annotations

import logging

from fedasr.algorithms.registry import parse_options
from fedasr.client_data.plugin import ClientDataPlugin
from fedasr.config import ExperimentConfig
from fedasr.data.batching import seconds_to_frames
from fedasr.devices.clock import WorkloadPlanner
from fedasr.devices.fleet import build_fleet
from fedasr.devices.plugins import ClockPlugin, DevicePlugin
from fedasr.engine.plugins import Plugin
from fedasr.errors import ConfigError
from fedasr.experiment.setup import Setup
from fedasr.server.replay import ServerReplay
from fedasr.server.stall import FallbackToBest, StallDecay
from fedasr.server.stopping import EarlyStopping, TimeBudget

log = logging.getLogger(__name__)


def build_plugins(config: ExperimentConfig, setup: Setup) -> list[Plugin]:
    plugins = [*device_plugins(config, setup)]
    pseudo_labels = config.client.pseudo_labels is not None
    plugins.append(ClientDataPlugin(setup.client_data, len(setup.registry), pseudo_labels))
    client, metric = config.client, config.eval.metric
    if client.stall_decay is not None:
        plugins.append(StallDecay(client.stall_decay, metric, client.lr))
    if config.server.fallback_to_best:
        plugins.append(FallbackToBest(metric))
    if config.server.replay is not None:
        plugins.append(ServerReplay(config, setup.bundle, setup.dims))
    early = config.eval.early_stopping
    if early.patience is not None:
        plugins.append(EarlyStopping(metric, early.patience, early.min_delta))
    plugins.append(TimeBudget(config.rounds.time_budget_min))
    return plugins


def device_plugins(config: ExperimentConfig, setup: Setup) -> list[Plugin]:
    section = config.devices
    if not section.enabled:
        return []
    check_clock(config)
    clock, client = section.clock, config.client
    fleet = build_fleet(
        section, setup.registry.ids, config.seed, setup.dims, setup.layout,
        client.batch_seconds, client.optimizer,
    )  # fmt: skip
    exits = len(setup.dims.exits)
    budgets = {
        name: int(fleet.depths[fleet.tier_of == i].max(initial=0)) or exits
        for i, name in enumerate(fleet.tier_names)
    }
    log.info("device tiers %s, exit budgets %s", fleet.counts(), budgets)
    devices = DevicePlugin(section, fleet, setup.registry.ids)
    return [devices, ClockPlugin(clock, devices, workload_planner(config, setup))]


def check_clock(config: ExperimentConfig) -> None:
    keep_first = config.devices.clock.keep_first
    if keep_first is not None and keep_first > config.rounds.clients_per_round:
        raise ConfigError(
            f"devices.clock.keep_first: {keep_first} is more than the "
            f"rounds.clients_per_round={config.rounds.clients_per_round} sampled"
        )


def workload_planner(config: ExperimentConfig, setup: Setup) -> WorkloadPlanner | None:
    """What the clock needs to predict a client's time before it trains (only when a deadline
    or over-selection cuts stragglers)."""
    clock = config.devices.clock
    if clock.deadline_s is None and clock.keep_first is None:
        return None
    train = setup.bundle.train
    return WorkloadPlanner(
        dims=setup.dims,
        layout=setup.layout,
        lengths=train.lengths,
        max_frames=seconds_to_frames(config.client.batch_seconds, train.store),
        local_epochs=config.client.local_epochs,
        max_steps=config.client.max_steps,
        frozen_frontend=bool(getattr(parse_options(config), "freeze_frontend", False)),
    )
