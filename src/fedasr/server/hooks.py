"""The server-side round hooks a config asks for, in the order the loop calls them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedasr.engine.hooks import RoundHook
from fedasr.server.replay import ServerReplayHook
from fedasr.server.stall import FallbackToBestHook, StallDecayHook

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig


def server_hooks(config: ExperimentConfig) -> list[RoundHook]:
    hooks: list[RoundHook] = []
    client, metric = config.client, config.eval.metric
    if client.stall_decay is not None:
        hooks.append(StallDecayHook(client.stall_decay, metric, client.lr))
    if config.server.fallback_to_best:
        hooks.append(FallbackToBestHook(metric))
    if config.server.replay is not None:
        hooks.append(ServerReplayHook(config.server.replay))
    return hooks
