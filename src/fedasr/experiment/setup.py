"""Build the data, clients, model and worker recipe a federated run needs from its config."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.registry import extra_splits
from fedasr.algorithms.spec import MAIN
from fedasr.client_data.local import ClientDataView
from fedasr.client_data.plan import ClientDataPlan, plan_client_data
from fedasr.config import ExperimentConfig
from fedasr.data.bundle import SPLITS, DataBundle, load_data
from fedasr.data.partition import partition
from fedasr.engine.cohort import ClientRegistry
from fedasr.engine.worker import WorkerSpec, default_workers, resolve_device
from fedasr.errors import ConfigError
from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims
from fedasr.models.factory import model_dims
from fedasr.models.flat import FlatModel, ParamLayout, bind_flat
from fedasr.models.io import load_model_file

log = logging.getLogger(__name__)


@dataclass
class Setup:
    bundle: DataBundle
    registry: ClientRegistry
    dims: ConformerDims
    layout: ParamLayout
    init_params: torch.Tensor
    spec: WorkerSpec
    workers: int
    client_data: ClientDataPlan = field(default_factory=ClientDataPlan)


def build_registry(config: ExperimentConfig, bundle: DataBundle) -> ClientRegistry:
    section = config.partition
    clients = partition(
        bundle.utterances["train"], section.scheme, seed=config.seed, **section.params
    )
    registry = ClientRegistry.build(clients, bundle.train.store, section.min_utterances)
    dropped = len(clients) - len(registry)
    if dropped:
        log.warning(
            "%d client(s) have fewer than partition.min_utterances=%d utterances; left out",
            dropped,
            section.min_utterances,
        )
    if len(registry) == 0:
        raise ConfigError("partition: no client has any usable utterance")
    return registry


def initial_params(
    config: ExperimentConfig, dims: ConformerDims
) -> tuple[ParamLayout, torch.Tensor]:
    """Seeded initialization, or the weights of `model.init_from` (a model file)."""
    model = build_model(dims, seed=config.seed)
    layout = ParamLayout.of(model, dims)
    if config.model.init_from:
        state, _ = load_model_file(Path(config.model.init_from))
        state = {k: v for k, v in state.items() if not k.startswith("_")}
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise ConfigError(
                f"model.init_from: {config.model.init_from} does not fit "
                f"model {config.model.preset}: {err}"
            ) from None
    return layout, bind_flat(model, layout).clone()


def build_setup(
    config: ExperimentConfig,
    tokenizer_dir: Path,
    progress: bool,
    tokenizer_home: Path | None = None,
) -> Setup:
    """Load the data (its tokenizer read from, or built into, `tokenizer_dir`) and build
    everything a run needs. Workers load the tokenizer from `tokenizer_home` when given: where
    a fresh run installs it once its checks pass (experiment/opening.py)."""
    resolve_device(config.executor.device)  # fail before any data is loaded
    extra = extra_splits(config)  # e.g. FedMD's public set
    bundle = load_data(config.data, tokenizer_dir, SPLITS + extra, progress=progress)
    if tokenizer_home is not None:
        bundle.tokenizer_dir = tokenizer_home
    registry = build_registry(config, bundle)
    # before the train handle is made: hidden transcripts never reach a worker
    client_data = plan_client_data(config, registry, bundle)
    dims = model_dims(config.model, bundle.tokenizer.vocab_size, config.data.features.n_mels)
    layout, params = initial_params(config, dims)
    ex = config.executor
    spec = WorkerSpec(
        config=config.model_dump(mode="json"),
        dims=dims.to_dict(),
        train=bundle.handle("train"),
        threads=ex.threads_per_worker,
        device=ex.device,
        conditions=ClientDataView(client_data, config),
        splits={name: bundle.handle(name) for name in extra},
    )
    workers = ex.workers or default_workers()
    return Setup(bundle, registry, dims, layout, params, spec, workers, client_data)


def initial_sets(
    config: ExperimentConfig, setup: Setup, algorithm: Algorithm
) -> dict[str, torch.Tensor]:
    """The starting point of every server parameter set: the run's model (seeded, or
    `model.init_from`) for the main set, a seeded initialization of each other architecture."""
    return {
        name: setup.init_params if name == MAIN else FlatModel(dims, seed=config.seed).flat
        for name, dims in algorithm.param_dims.items()
    }
