"""Assembling a federated run from its config — the one place that knows every package.

    config --> run directory, data, clients, model, initial parameters   (experiment.setup)
           --> the algorithm's two halves                                (algorithms.registry)
           --> the plug-ins the config asks for                          (experiment.plugins)
           --> engine.loop.FederatedRun, which knows none of them by name

`run_federated(config)` is the public entry point (the CLI, the demo and the benchmarks use
it); `build_run(config)` gives the run itself, to drive rounds one by one.
"""

from __future__ import annotations

from fedasr.config import ExperimentConfig
from fedasr.engine.loop import FederatedRun, RoundObserver, RunSummary
from fedasr.experiment.opening import AlgorithmFactory, open_run, registered_algorithm
from fedasr.experiment.setup import Setup

__all__ = ["AlgorithmFactory", "Setup", "build_run", "run_federated"]


def build_run(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_round: RoundObserver | None = None,
    algorithm: AlgorithmFactory | None = None,
) -> FederatedRun:
    """The run of `config`, every check passed and its directory written (experiment/
    opening.py); `algorithm` replaces the registry's (a method under development, a test's
    toy)."""
    progress = progress and config.logging.progress
    parts = open_run(
        config, resume=resume, progress=progress, algorithm=algorithm or registered_algorithm
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
