"""Model tiers: clients of different devices train models of different architectures.

`model.tiers` names the architectures (each a preset and overrides of the one ConformerCTC
builder); a client's device tier (devices.tiers, which the DevicePlugin assigns as
`ClientTask.tier`) names the model tier it trains (`devices.tiers.NAME.model`, default the
model tier called NAME). The server keeps one parameter set per model tier, each averaged
over the clients of that tier (FedAvgServer over several sets); what the tiers share on top
is a `Sharing` rule: nothing (`tiers`: each tier trained alone), per-label feature prototypes
(FedKAD, algorithms/fedkad.py) or a consensus on public data (FedMD, algorithms/fedmd.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from fedasr.algorithms.base import (
    Algorithm,
    Broadcast,
    ClientTask,
    RoundAccumulator,
    ServerState,
)
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgOptions, FedAvgServer
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import ModelSpec
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims
from fedasr.models.factory import check_tiers, tier_dims

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fedasr.config import ExperimentConfig

Extras = dict[str, torch.Tensor]


def model_tier_of(config: ExperimentConfig) -> dict[str, str]:
    """Device tier -> the model tier its clients train."""
    return {name: tier.model or name for name, tier in config.devices.tiers.items()}


def check_tiered(config: ExperimentConfig, need_models: bool = True) -> None:
    """A tiered algorithm needs device tiers, and (unless `need_models` is False) a model tier
    for every device tier; checked when the config loads."""
    name = config.algorithm.name
    if not config.devices.tiers:
        raise ConfigError(
            f"algorithm.name={name}: needs devices.tiers (a client's device tier names the model "
            "tier it trains); see configs/fedkad.yaml"
        )
    check_tiers(config.model)
    if not need_models:
        return
    if not config.model.tiers:
        raise ConfigError(f"algorithm.name={name}: needs model.tiers (one architecture per tier)")
    for device, model in model_tier_of(config).items():
        if model not in config.model.tiers:
            key = f"devices.tiers.{device}.model" if device != model else f"devices.tiers.{device}"
            raise ConfigError(
                f"{key}: no model tier {model!r}; model.tiers defines: "
                f"{', '.join(config.model.tiers)} (set devices.tiers.{device}.model)"
            )


@dataclass(frozen=True)
class TierMap:
    dims: dict[str, ConformerDims]  # model tier -> architecture
    of_device: dict[str, str]  # device tier -> model tier

    @classmethod
    def of(cls, config: ExperimentConfig, dims: ConformerDims) -> TierMap:
        return cls(tier_dims(config.model, dims.vocab, dims.n_mels), model_tier_of(config))

    def tier(self, task: ClientTask) -> str:
        if task.tier is None:
            raise ConfigError(f"client {task.client_id} has no device tier (devices.tiers)")
        return self.of_device[task.tier]

    def spec_for(self, task: ClientTask) -> ModelSpec:
        tier = self.tier(task)
        return ModelSpec(self.dims[tier], params=tier)

    def feature_dim(self) -> int:
        """The one top-level feature size D every tier projects to (FedKAD, FedMD need it)."""
        sizes = {name: dims.feature_dim() for name, dims in self.dims.items()}
        if len(set(sizes.values())) != 1:
            raise ConfigError(
                f"model.tiers: the tiers' top-level feature sizes differ ({sizes}); give them "
                "one shared size D with model.overrides.proj_dim"
            )
        return next(iter(sizes.values()))


class Sharing(Protocol):
    """What the tiers share besides their parameters: server extras, broadcast, update."""

    def init(self) -> Extras: ...

    def broadcast(self, extras: Extras, round_index: int) -> Extras: ...

    def update(
        self, extras: Extras, acc: RoundAccumulator, round_index: int
    ) -> tuple[Extras, dict[str, Any]]: ...


@dataclass(frozen=True)
class NoSharing:
    def init(self) -> Extras:
        return {}

    def broadcast(self, extras: Extras, round_index: int) -> Extras:
        return {}

    def update(
        self, extras: Extras, acc: RoundAccumulator, round_index: int
    ) -> tuple[Extras, dict[str, Any]]:
        return extras, {}


@dataclass(frozen=True)
class TieredServer:
    """One parameter set per model tier (FedAvg within each) plus a sharing rule."""

    fedavg: FedAvgServer
    tiers: TierMap
    sharing: Sharing = NoSharing()

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        state = self.fedavg.init(params)
        return ServerState(state.params, state.optimizer, state.round, self.sharing.init())

    def spec_for(self, state: ServerState, task: ClientTask) -> ModelSpec:
        return self.tiers.spec_for(task)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        extras = self.sharing.broadcast(state.extras, round_index)
        return Broadcast(round=round_index, params=state.params, lr=lr, extras=extras)

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        new, metrics = self.fedavg.update(state, acc)
        extras, shared = self.sharing.update(state.extras, acc, state.round)
        metrics.update(shared)
        return ServerState(new.params, new.optimizer, new.round, extras), metrics


def tiered_server(config: ExperimentConfig, tiers: TierMap, sharing: Sharing) -> TieredServer:
    any_dims = next(iter(tiers.dims.values()))
    return TieredServer(FedAvgServer(server_optimizer(config), any_dims), tiers, sharing)


def build_tiers(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """`algorithm.name: tiers`: each tier trained alone by FedAvg over its own clients."""
    assert isinstance(options, FedAvgOptions)
    tiers = TierMap.of(config, dims)
    client = FedAvgClient(CountWeighting(options.weighting))
    return Algorithm("tiers", client, tiered_server(config, tiers, NoSharing()), tiers.dims)
