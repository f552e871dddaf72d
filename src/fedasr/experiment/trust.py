"""Trust in a run (docs/trust.md): when the config has a `trust:` section, the registry's
algorithm is wrapped (trust/algorithm.py) and trust's plug-ins join the run. A config without
one runs exactly as before. Every check here runs before the run directory is written and
names the key, the value and what is accepted."""

from __future__ import annotations

import logging

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient
from fedasr.algorithms.registry import parse_options
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig
from fedasr.engine.plugins import Plugin
from fedasr.errors import ConfigError
from fedasr.experiment.setup import Setup
from fedasr.trust.accountant import Cohort, default_delta, noise_multiplier_for
from fedasr.trust.algorithm import with_trust
from fedasr.trust.attacks import check_attack_clients
from fedasr.trust.dp import expected_weight, update_noise_multiplier
from fedasr.trust.plugins import Attackers, PrivacyBudget
from fedasr.trust.privacy import PrivacyPlan
from fedasr.trust.schema import TrustSection
from fedasr.trust.server_steps import ServerStep, fold_mode

log = logging.getLogger(__name__)
# algorithms whose server half applies the `delta` aggregate (algorithms/fedavg.FedAvgServer)
WRAPPABLE = ("fedavg", "fedprox", "dga", "fednova", "early_exit")
PRIVATE = ("fedavg", "fedprox")  # their weighting is replaced by dp.weighting


def with_trust_parts(
    config: ExperimentConfig, setup: Setup, algorithm: Algorithm
) -> tuple[Algorithm, list[Plugin]]:
    """The algorithm with trust around it, and trust's plug-ins (none without `trust:`)."""
    section = config.trust
    if section is None:
        return algorithm, []
    check_trust(config, setup, algorithm, section)
    privacy = privacy_plan(config, setup, section) if section.dp is not None else None
    step = ServerStep(section, config.seed, setup.registry.ids, setup.layout.numel, privacy)
    plugins: list[Plugin] = []
    if section.attacks:
        plugins.append(Attackers(list(section.attacks), config.seed, setup.registry.ids))
    if privacy is not None:
        plugins.append(PrivacyBudget(privacy))
    return with_trust(algorithm, section, step, config.seed, privacy), plugins


def check_trust(
    config: ExperimentConfig, setup: Setup, algorithm: Algorithm, section: TrustSection
) -> None:
    name = algorithm.name
    if name not in WRAPPABLE or set(algorithm.param_dims) != {MAIN}:
        raise ConfigError(
            f"trust: algorithm.name={name!r} does not take trust's aggregation; accepted "
            f"with trust: {', '.join(WRAPPABLE)}"
        )
    if section.dp is not None and name not in PRIVATE:
        raise ConfigError(
            f"trust.dp: algorithm.name={name!r} weights clients by its own rule, which DP-FedAvg "
            f"replaces with dp.weighting (bounded, so one client's influence is); accepted "
            f"with trust.dp: {', '.join(PRIVATE)}"
        )
    check_attack_clients(section.attacks, setup.registry.ids)
    if fold_mode(section) != "fold":
        _check_whole_updates(config)
    if section.secagg is not None and section.dp is None:
        _check_secagg_weights(config, setup, algorithm, section.secagg.max_weight)


def _check_whole_updates(config: ExperimentConfig) -> None:
    """Robust aggregation compares, SecAgg and DP sum, whole updates of the model."""
    why = "trust.robust / dp / secagg need every client to send the whole model"
    if config.client.depth is not None:
        raise ConfigError(f"client.depth: got {config.client.depth}; {why}; accepted: null")
    if config.devices.enabled:
        raise ConfigError(
            f"devices: simulated devices give clients exit budgets (model prefixes); {why}; "
            "accepted: no devices section"
        )
    if getattr(parse_options(config), "freeze_frontend", False):
        raise ConfigError(f"algorithm.freeze_frontend: got true; {why}; accepted: false")


def _check_secagg_weights(
    config: ExperimentConfig, setup: Setup, algorithm: Algorithm, max_weight: float
) -> None:
    """Without DP a client sends w·Δ and w = its weight, which the ring must hold."""
    client = algorithm.client
    weighting = getattr(client, "weighting", None)
    if not isinstance(client, FedAvgClient) or not isinstance(weighting, CountWeighting):
        return  # DGA's weights: values past the bound are clipped and counted in the record
    registry = setup.registry
    if weighting.by == "examples":
        largest = max(len(registry.rows_of(i)) for i in range(len(registry)))
    elif weighting.by == "frames":
        largest = int(registry.frames.max())
    else:
        largest = 1
    if largest > max_weight:
        raise ConfigError(
            f"trust.secagg.max_weight: got {max_weight:g} but a client weighs {largest} "
            f"(algorithm.weighting={weighting.by}); accepted: at least {largest}, or "
            "algorithm.weighting=uniform"
        )


def privacy_plan(config: ExperimentConfig, setup: Setup, section: TrustSection) -> PrivacyPlan:
    """The public constants of a DP run, the noise multiplier a target ε sets included."""
    dp = section.dp
    assert dp is not None
    registry, size = setup.registry, config.rounds.clients_per_round
    cohort = Cohort(len(registry), size, dp.sampling)
    delta = dp.delta if dp.delta is not None else default_delta(len(registry))
    noise = dp.noise_multiplier
    if dp.target_epsilon is not None and dp.target_action == "set_noise":
        noise = _noise_for_target(config, dp.target_epsilon, cohort, delta, dp.mode)
    assert noise is not None
    try:
        update_noise_multiplier(dp, noise, size)
    except ValueError as err:
        raise ConfigError(f"trust.dp.adaptive.count_noise: {err}") from None
    examples = [len(registry.rows_of(i)) for i in range(len(registry))]
    weight = expected_weight(examples, size, dp)
    plan = PrivacyPlan(dp, noise, size, weight, cohort, delta)
    if dp.target_action == "stop" and dp.target_epsilon is not None:
        first = plan.epsilon([noise])
        if first > dp.target_epsilon:
            raise ConfigError(
                f"trust.dp.target_epsilon: got {dp.target_epsilon:g} but one round at "
                f"noise_multiplier {noise:g} already spends epsilon {first:.4g}; accepted: a "
                "larger target, or more noise"
            )
    return plan


def _noise_for_target(
    config: ExperimentConfig, target: float, cohort: Cohort, delta: float, mode: str
) -> float:
    if mode == "local":
        raise ConfigError(
            "trust.dp.target_epsilon: target_action set_noise calibrates central noise; with "
            "mode local give noise_multiplier (and target_action: stop to cap epsilon)"
        )
    dp = config.trust.dp if config.trust is not None else None
    kind = dp.accountant if dp is not None else "rdp"
    try:
        noise = noise_multiplier_for(target, config.rounds.total, cohort, delta, kind)
    except Exception as err:  # the library's search found no noise in its bracket
        raise ConfigError(f"trust.dp.target_epsilon: got {target:g}: {err}") from None
    log.info(
        "trust.dp: noise multiplier %.4f spends epsilon %g over %d rounds (cohort %d of %d, "
        "delta %.3g)", noise, target, config.rounds.total, cohort.size, cohort.population, delta,
    )  # fmt: skip
    return noise
