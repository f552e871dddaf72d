"""Algorithms by name: each entry is an options schema and a builder (a dict, no magic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.dga import DGAOptions, DGAWeighting
from fedasr.algorithms.early_exit import EarlyExitOptions
from fedasr.algorithms.fedavg import (
    CountWeighting,
    FedAvgClient,
    FedAvgOptions,
    FedAvgServer,
    FedProxOptions,
    Weighting,
)
from fedasr.algorithms.fedkad import FedKADOptions, build_fedkad
from fedasr.algorithms.fedmd import PUBLIC, FedMDOptions, build_fedmd
from fedasr.algorithms.fednova import build_fednova
from fedasr.algorithms.heterofl import HeteroFLOptions, build_heterofl, check_widths
from fedasr.algorithms.objectives import ObjectivePart, Proximal
from fedasr.algorithms.pruning import PruningOptions, build_pruning
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import MAIN
from fedasr.algorithms.tiers import build_tiers, check_tiered
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig

Builder = Callable[["ExperimentConfig", BaseModel, ConformerDims], Algorithm]
Check = Callable[["ExperimentConfig", BaseModel], None]


@dataclass(frozen=True)
class Entry:
    options: type[BaseModel]
    build: Builder  # (config, parsed options, the run's model dims) -> Algorithm
    summary: str
    tier_sparsity: bool = False  # honours devices.tiers.*.sparsity
    check: Check | None = None  # other sections it needs, checked when the config loads
    splits: tuple[str, ...] = ()  # data splits its clients read besides train ("public")


def fedavg_family(
    name: str,
    config: ExperimentConfig,
    dims: ConformerDims,
    weighting: Weighting,
    parts: tuple[ObjectivePart, ...] = (),
    freeze_frontend: bool = False,
) -> Algorithm:
    exit_weights = config.client.exit_weights
    client = FedAvgClient(weighting, parts, tuple(exit_weights) if exit_weights else None)
    server = FedAvgServer(server_optimizer(config), dims, freeze_frontend)
    return Algorithm(name, client, server, {MAIN: dims})


def _fedavg(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    assert isinstance(options, FedAvgOptions)
    return fedavg_family("fedavg", config, dims, CountWeighting(options.weighting))


def _fedprox(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    assert isinstance(options, FedProxOptions)
    parts = (Proximal(options.mu),) if options.mu > 0 else ()
    return fedavg_family("fedprox", config, dims, CountWeighting(options.weighting), parts)


def _dga(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    assert isinstance(options, DGAOptions)
    return fedavg_family("dga", config, dims, DGAWeighting(options))


def _early_exit(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    assert isinstance(options, EarlyExitOptions)
    weighting = CountWeighting(options.weighting)
    return fedavg_family(
        "early_exit", config, dims, weighting, freeze_frontend=options.freeze_frontend
    )


def _check_heterofl(config: ExperimentConfig, options: BaseModel) -> None:
    assert isinstance(options, HeteroFLOptions)
    check_tiered(config, need_models=False)
    check_widths(config, options.widths)


REGISTRY: dict[str, Entry] = {
    "fedavg": Entry(
        FedAvgOptions, _fedavg, "FedAvg with any server optimizer (FedAdam, FedYogi, FedAvgM)"
    ),
    "dga": Entry(
        DGAOptions,
        _dga,
        "FedAvg weighted by exp(-beta * client statistic) (Dynamic Gradient Aggregation)",
    ),
    "fedprox": Entry(
        FedProxOptions, _fedprox, "FedAvg plus a proximal term mu/2 ||theta - theta_global||^2"
    ),
    "fednova": Entry(FedAvgOptions, build_fednova, "FedAvg of step-normalized updates (FedNova)"),
    "early_exit": Entry(
        EarlyExitOptions,
        _early_exit,
        "FedAvg over per-client depths (devices:) with an optional frozen front-end",
    ),
    "pruning": Entry(
        PruningOptions,
        build_pruning,
        "Federated pruning: structured masks, physically smaller client models (docs/pruning.md)",
        tier_sparsity=True,
    ),
    "tiers": Entry(
        FedAvgOptions, build_tiers, "one model per device tier (model.tiers), each trained alone",
        check=lambda config, options: check_tiered(config),
    ),
    "fedkad": Entry(
        FedKADOptions, build_fedkad,
        "one model per tier, sharing per-label feature prototypes (FedKAD)",
        check=lambda config, options: check_tiered(config),
    ),
    "fedmd": Entry(
        FedMDOptions, build_fedmd,
        "one model per tier, distilling a consensus on the public set (FedMD)",
        check=lambda config, options: check_tiered(config), splits=(PUBLIC,),
    ),
    "heterofl": Entry(
        HeteroFLOptions, build_heterofl,
        "width slices of one model per tier, each coordinate averaged over its holders",
        check=_check_heterofl,
    ),
}  # fmt: skip


def extra_splits(config: ExperimentConfig) -> tuple[str, ...]:
    """The data splits the configured algorithm reads besides train, test and held-out."""
    return _entry(config.algorithm.name).splits


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise ConfigError(f"algorithm.name: got {name!r}; allowed: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def parse_options(config: ExperimentConfig) -> BaseModel:
    entry = _entry(config.algorithm.name)
    return entry.options.model_validate(config.algorithm.options())


def validate_algorithm_options(config: ExperimentConfig, source: str) -> None:
    sparse = [name for name, tier in config.devices.tiers.items() if tier.sparsity is not None]
    if sparse and not _entry(config.algorithm.name).tier_sparsity:
        supported = ", ".join(name for name, entry in REGISTRY.items() if entry.tier_sparsity)
        raise ConfigError(
            f"{source}: devices.tiers.{sparse[0]}.sparsity: algorithm.name="
            f"{config.algorithm.name!r} has no sparsity budgets; use one of: {supported}"
        )
    try:
        options = parse_options(config)
    except ValidationError as err:
        lines = [f"{source}: invalid config"]
        allowed = ", ".join(["name", *_entry(config.algorithm.name).options.model_fields])
        for item in err.errors():
            key = "algorithm." + ".".join(str(p) for p in item["loc"])
            if item["type"] == "extra_forbidden":
                lines.append(
                    f"  {key}: unknown key for {config.algorithm.name!r}; allowed: {allowed}"
                )
            else:
                lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
        raise ConfigError("\n".join(lines)) from None
    check = _entry(config.algorithm.name).check
    if check is not None:
        try:
            check(config, options)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None


def build_algorithm(config: ExperimentConfig, dims: ConformerDims) -> Algorithm:
    entry = _entry(config.algorithm.name)
    return entry.build(config, parse_options(config), dims)
