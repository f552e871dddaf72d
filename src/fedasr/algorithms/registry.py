"""Algorithms by name: each entry is an options schema and a builder (a dict, no magic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.dga import DGAOptions, build_dga
from fedasr.algorithms.early_exit import EarlyExitOptions, build_early_exit
from fedasr.algorithms.fedavg import FedAvg, FedAvgOptions, FedProxOptions, weighting_by
from fedasr.algorithms.server_opt import ServerOptimizer
from fedasr.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    options: type[BaseModel]
    build: Callable[[Any, Any], Algorithm]  # (ExperimentConfig, parsed options) -> Algorithm
    summary: str


def server_optimizer(config: Any) -> ServerOptimizer:
    s = config.server
    return ServerOptimizer(
        s.optimizer,
        s.lr,
        s.momentum,
        s.beta1,
        s.beta2,
        s.tau,
        s.bias_correction,
        schedule=s.lr_schedule,
        total_rounds=config.rounds.total,
    )


def _fedavg(config: Any, options: FedAvgOptions) -> Algorithm:
    return FedAvg(server_optimizer(config), weighting_by(options.weighting))


def _fedprox(config: Any, options: FedProxOptions) -> Algorithm:
    return FedAvg(
        server_optimizer(config),
        weighting_by(options.weighting),
        prox_mu=options.mu,
        name="fedprox",
    )


REGISTRY: dict[str, Entry] = {
    "fedavg": Entry(
        FedAvgOptions, _fedavg, "FedAvg with any server optimizer (FedAdam, FedYogi, FedAvgM)"
    ),
    "dga": Entry(
        DGAOptions,
        build_dga,
        "FedAvg weighted by exp(-beta * client statistic) (Dynamic Gradient Aggregation)",
    ),
    "fedprox": Entry(
        FedProxOptions, _fedprox, "FedAvg plus a proximal term mu/2 ||theta - theta_global||^2"
    ),
    "early_exit": Entry(
        EarlyExitOptions,
        build_early_exit,
        "FedAvg over per-client depths (devices:) with an optional frozen front-end",
    ),
}


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise ConfigError(f"algorithm.name: got {name!r}; allowed: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def parse_options(config: Any) -> BaseModel:
    entry = _entry(config.algorithm.name)
    return entry.options.model_validate(config.algorithm.options())


def validate_algorithm_options(config: Any, source: str) -> None:
    try:
        parse_options(config)
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


def build_algorithm(config: Any) -> Algorithm:
    entry = _entry(config.algorithm.name)
    return entry.build(config, parse_options(config))
