"""HeteroFL (Diao, Ding, Tarokh, "HeteroFL: Computation and Communication Efficient Federated
Learning for Heterogeneous Clients", ICLR 2021): one global model; a weaker client trains a
width slice of it — the first r x width of every layer's feed-forward units, attention heads
and convolution channels (`models.submodel.prefix_selection`) — as a physically smaller model,
and each coordinate of the global model is averaged over the clients that hold it.

Everything is already in the engine: a model spec naming the slice (`ModelSpec(coords=...)`,
the index from `models.submodel.width_index`) gives the client the smaller model and scatters
its update back (`aggregate.WeightedSum`); coordinates nobody held keep their value. The
global model is the run's (`model.preset`/`model.overrides`, or `model.tier`);
`algorithm.widths` maps a model tier (devices.tiers.NAME.model, default NAME) to its ratio r;
tiers not listed train the whole model. Each slice is evaluated and exported as a view
(`NAME_heldout_wer`, `model-NAME.safetensors`).

Differences from the paper: the residual width d_model is never cut (every slice plugs into
the same front-end and exits), and there is no output "scaler" (LayerNorm instead of the
paper's static batch norm needs no tracking statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from pydantic import Field

from fedasr.algorithms.base import (
    Algorithm,
    Broadcast,
    ClientTask,
    RoundAccumulator,
    ServerState,
)
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgOptions, FedAvgServer
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import MAIN, ModelSpec, View
from fedasr.algorithms.tiers import model_tier_of
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims
from fedasr.models.submodel import prefix_selection, width_index

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fedasr.config import ExperimentConfig


class HeteroFLOptions(FedAvgOptions):
    widths: dict[str, float] = Field(default_factory=dict)  # model tier -> ratio in (0, 1]


@dataclass(frozen=True)
class HeteroFLServer:
    fedavg: FedAvgServer  # the global model: one set, the run's architecture
    slices: dict[str, View]  # model tier -> its width slice of the global set
    of_device: dict[str, str]  # device tier -> model tier

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        return self.fedavg.init(params)

    def spec_for(self, state: ServerState, task: ClientTask) -> ModelSpec:
        tier = self.of_device.get(task.tier or "", "")
        view = self.slices.get(tier)
        if view is None:
            return ModelSpec(self.fedavg.dims, depth=task.depth)
        return ModelSpec(view.dims, coords=tier, depth=task.depth)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        coords = {tier: view.index for tier, view in self.slices.items()}
        return replace(self.fedavg.broadcast(state, round_index, lr), coords=coords)

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        return self.fedavg.update(state, acc)


def check_widths(config: ExperimentConfig, widths: dict[str, float]) -> None:
    tiers = set(model_tier_of(config).values())
    for tier, ratio in widths.items():
        if tier not in tiers:
            raise ConfigError(
                f"algorithm.widths.{tier}: no device tier trains a model tier {tier!r}; "
                f"the device tiers' model tiers are: {', '.join(sorted(tiers))}"
            )
        if not 0 < ratio <= 1:
            raise ConfigError(f"algorithm.widths.{tier}: got {ratio}; a ratio in (0, 1]")


def width_slices(dims: ConformerDims, widths: dict[str, float]) -> dict[str, View]:
    slices = {}
    for tier, ratio in widths.items():
        if ratio < 1:
            narrow, index = width_index(dims, prefix_selection(dims, ratio))
            slices[tier] = View(narrow, MAIN, index)
    return slices


def build_heterofl(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """The registry's builder: `algorithm: {name: heterofl, widths: {S: 0.25, M: 0.5}}`."""
    assert isinstance(options, HeteroFLOptions)
    check_widths(config, options.widths)
    slices = width_slices(dims, options.widths)
    server = HeteroFLServer(
        FedAvgServer(server_optimizer(config), dims), slices, model_tier_of(config)
    )
    weights = config.client.exit_weights
    client = FedAvgClient(
        CountWeighting(options.weighting), (), tuple(weights) if weights else None
    )
    return Algorithm("heterofl", client, server, {MAIN: dims}, views=slices)
