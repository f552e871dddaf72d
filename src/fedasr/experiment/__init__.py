"""Assembling a federated run from its config — the one place that knows every package.

    config --> run directory, data, clients, model, initial parameters   (experiment.setup)
           --> the algorithm's two halves                                (algorithms.registry)
           --> the plug-ins the config asks for                          (experiment.plugins)
           --> engine.loop.FederatedRun, which knows none of them by name

`run_federated(config)` is the public entry point (the CLI, the demo and the benchmarks use
it); `build_run(config)` gives the run itself, to drive rounds one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig
from fedasr.engine.loop import FederatedRun, RoundObserver, RunParts, RunSummary
from fedasr.engine.rundir import RunDir
from fedasr.experiment.plugins import build_plugins
from fedasr.experiment.setup import Setup, build_setup
from fedasr.models.flat import FlatModel

AlgorithmFactory = Callable[[ExperimentConfig, Setup], Algorithm]

__all__ = ["Setup", "build_run", "run_federated"]


def build_run(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_round: RoundObserver | None = None,
    algorithm: AlgorithmFactory | None = None,
) -> FederatedRun:
    """The run of `config`; `algorithm` replaces the registry's (a method under development,
    or a test's toy)."""
    run_dir = RunDir(config.resolved_run_dir(), config, resume=resume)
    progress = progress and config.logging.progress
    setup = build_setup(config, run_dir.tokenizer_dir, progress)
    chosen = (algorithm or _registered)(config, setup)
    parts = RunParts(
        config=config,
        run=run_dir,
        bundle=setup.bundle,
        registry=setup.registry,
        algorithm=chosen,
        init_params=initial_sets(config, setup, chosen),
        worker=setup.spec,
        workers=setup.workers,
        plugins=build_plugins(config, setup),
    )
    return FederatedRun(parts, resume=resume, progress=progress, on_round=on_round)


def run_federated(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_round: RoundObserver | None = None,
) -> RunSummary:
    """Run (or resume) a federated experiment. `on_round` sees every round's metrics record
    after it is logged and checkpointed; returning True stops the run there (e.g. a tuner's
    pruner): the run directory is complete and `--resume` would continue it."""
    return build_run(config, resume=resume, progress=progress, on_round=on_round).execute()


def _registered(config: ExperimentConfig, setup: Setup) -> Algorithm:
    return build_algorithm(config, setup.dims)


def initial_sets(
    config: ExperimentConfig, setup: Setup, algorithm: Algorithm
) -> dict[str, torch.Tensor]:
    """The starting point of every server parameter set: the run's model (seeded, or
    `model.init_from`) for the main set, a seeded initialization of each other architecture."""
    return {
        name: setup.init_params if name == MAIN else FlatModel(dims, seed=config.seed).flat
        for name, dims in algorithm.param_dims.items()
    }
