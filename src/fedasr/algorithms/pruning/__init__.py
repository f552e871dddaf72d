"""Federated pruning (Lin et al., "Federated Pruning: Improving Neural Network Efficiency with
Federated Learning", Interspeech 2022; shared/ALGORITHMS.md §4): FedAvg of a structurally
pruned model whose clients train a physically smaller network.

    structure.py  what can be pruned (units, mask groups per pattern), as flat coordinates
    masks.py      which groups to keep: uniform or adaptive sparsity, nested tier masks
    plan.py       the options, phases (prune / refine / fine-tune) and sparsity schedule
    view.py       a mask as a client's model: its smaller dims and its server coordinates
    client.py     local training with the mask hook and the client Taylor scores
    server.py     FedAvg on the dense parameters, masks in ServerState.extras

`algorithm: {name: pruning, ...}`; docs/pruning.md explains the method and its options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgServer
from fedasr.algorithms.pruning.client import PruningClient
from fedasr.algorithms.pruning.plan import PruningOptions
from fedasr.algorithms.pruning.server import PruningServer
from fedasr.algorithms.pruning.structure import KINDS, PRUNABLE, build_structure
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import MAIN
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig

__all__ = ["PruningOptions", "build_pruning"]


def build_pruning(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """The registry's builder: `algorithm: {name: pruning, sparsity: 0.5, ...}`."""
    assert isinstance(options, PruningOptions)
    check_compatible(config)
    chosen = {kind for name in options.prunable for kind in PRUNABLE[name]}
    kinds = tuple(kind for kind in KINDS if kind in chosen)
    try:
        structure = build_structure(dims, options.pattern, kinds)
    except ValueError as err:
        raise ConfigError(f"algorithm.pattern: {err}") from None
    tiers = {
        name: tier.sparsity
        for name, tier in config.devices.tiers.items()
        if tier.sparsity is not None
    }
    weights = config.client.exit_weights
    fedavg = FedAvgClient(
        CountWeighting(options.weighting), (), tuple(weights) if weights else None
    )
    taylor = options.score == "taylor"
    client = PruningClient(fedavg, options.pattern, kinds, structure.groups, taylor)
    server = PruningServer(FedAvgServer(server_optimizer(config), dims), options, structure, tiers)
    return Algorithm("pruning", client, server, {MAIN: dims})


def check_compatible(config: ExperimentConfig) -> None:
    """Plug-ins that replace or retrain the global parameters would undo the masks."""
    if config.server.fallback_to_best:
        raise ConfigError(
            "server.fallback_to_best: not supported with algorithm.name=pruning (the best "
            "model's masks are not kept with it); set it to false"
        )
    if config.server.replay is not None:
        raise ConfigError(
            "server.replay: not supported with algorithm.name=pruning (server training would "
            "move pruned weights); remove it"
        )
