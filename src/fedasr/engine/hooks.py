"""Round hooks: how methods that are not an aggregation rule plug into the one round loop.

Device availability, a simulated clock, client-rate decay on a stalled validation WER, server
replay, fall-back to the best model... each is a small object with a few of the methods below;
the loop calls them at fixed points and knows nothing else about them (the pfl-research
"postprocessor" idea). Methods a hook does not need are inherited as no-ops from RoundHook.
A hook's `state_dict` goes into every checkpoint, so `--resume` restores it exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fedasr.algorithms.base import ClientReport, ClientTask

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig
    from fedasr.engine.loop import FederatedRun


class RoundHook:
    name = "hook"

    def prepare(self, run: FederatedRun) -> None:
        """Once, after the run is set up (e.g. assign device tiers to clients)."""

    def eligible(self, round_index: int, clients: list[int]) -> list[int]:
        """Clients that may be sampled this round (e.g. the available ones)."""
        return clients

    def select(self, round_index: int, tasks: list[ClientTask]) -> list[ClientTask]:
        """The sampled clients that train this attempt (e.g. without predicted stragglers)."""
        return tasks

    def lr_factor(self) -> float:
        """Multiplies the scheduled client learning rate."""
        return 1.0

    def after_aggregate(self, run: FederatedRun, round_index: int) -> dict[str, Any]:
        """After the server update (e.g. server replay); returns metrics to log."""
        return {}

    def round_metrics(
        self, run: FederatedRun, round_index: int, reports: list[ClientReport]
    ) -> dict[str, Any]:
        """Extra per-round metrics from the clients' reports (e.g. simulated time)."""
        return {}

    def after_evaluation(self, run: FederatedRun, record: dict[str, Any]) -> dict[str, Any]:
        """After an evaluation (e.g. decay on a stall, fall back to the best model)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict returned."""


def build_hooks(config: ExperimentConfig) -> list[RoundHook]:
    """The hooks a config asks for, in the order the loop calls them."""
    from fedasr.client_data.hooks import client_data_hooks
    from fedasr.devices.hooks import device_hooks
    from fedasr.server.hooks import server_hooks

    return [*device_hooks(config), *client_data_hooks(config), *server_hooks(config)]
