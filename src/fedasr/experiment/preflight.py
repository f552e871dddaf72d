"""Checks every key of a run's config against the other keys and against the data, before the
run writes or deletes anything (experiment/opening.py calls them in that order).

Each check raises ConfigError naming the key, the value and what would be accepted. Pydantic
checks each key alone (config.py); what needs two keys, or the data, is checked here:

    check_config(config)                     keys against keys, and files the config names
    check_with_data(config, setup)           keys against the clients and the model
    check_eval_metric(config, sets)          eval.metric against what evaluation will log
    check_resume(config, run_dir, expected)  a resumed run's keys against its checkpoint
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.checkpoint import load_latest_checkpoint
from fedasr.errors import ConfigError
from fedasr.experiment.setup import Setup
from fedasr.models.dims import ConformerDims
from fedasr.models.factory import model_dims

log = logging.getLogger(__name__)
METRIC_KINDS = ("wer", "cer")
# what a checkpoint holds depends on these: the model's shape, the tokenizer behind its output
# layer, the features behind its input, the server optimizer's state
CHECKPOINT_KEYS = (
    "model.preset",
    "model.overrides",
    "data.tokenizer",
    "data.features",
    "server.optimizer",
    "algorithm.name",
)


def check_config(config: ExperimentConfig) -> None:
    """What the config of a federated run alone can tell: cross-key rules, named files."""
    check_model_and_eval(config)
    _check_rounds(config)
    _check_faults(config)
    _check_init_from(config)


def check_model_and_eval(config: ExperimentConfig) -> None:
    """The keys every training run shares (federated or centralized)."""
    dims = model_dims(config.model, 32, config.data.features.n_mels)  # vocab does not matter
    dims.validate()
    _check_exits(config, dims)


def check_with_data(config: ExperimentConfig, setup: Setup) -> None:
    """What needs the data: the clients the partition made (and the model built for them)."""
    clients = list(setup.registry.ids)
    _check_cohort(config, len(clients))
    _check_fault_clients(config, set(clients))
    _check_exits(config, setup.dims)


def _accepted_metrics(config: ExperimentConfig, sets: list[str]) -> list[str]:
    """Every set is evaluated; another set's metrics carry its name (engine/evaluation.py)."""
    return [
        ("" if name == MAIN else f"{name}_") + f"{split}_{kind}"
        for name in sets
        for split in config.eval.splits
        for kind in METRIC_KINDS
    ]


def check_eval_metric(config: ExperimentConfig, sets: list[str]) -> None:
    """`eval.metric` (best model, early stopping, decay, fall-back) names a logged metric of
    one of the server's parameter sets `sets`."""
    accepted = _accepted_metrics(config, sets)
    if not accepted:  # evaluation is off: nothing may depend on it
        if config.eval.early_stopping.patience is not None:
            raise ConfigError(
                "eval.early_stopping.patience: set, but eval.splits is [] so nothing is "
                "evaluated; accepted: null, or eval.splits with test and/or heldout"
            )
        return
    if config.eval.metric not in accepted:
        raise ConfigError(
            f"eval.metric: got {config.eval.metric!r}, which no evaluation produces with "
            f"eval.splits={list(config.eval.splits)}; accepted: {', '.join(accepted)}"
        )


def _check_rounds(config: ExperimentConfig) -> None:
    rounds = config.rounds
    if rounds.min_clients > rounds.clients_per_round:
        log.warning(
            "rounds.min_clients=%d is above rounds.clients_per_round=%d: a round needs all %d "
            "sampled clients to succeed",
            rounds.min_clients, rounds.clients_per_round, rounds.clients_per_round,
        )  # fmt: skip


def _check_cohort(config: ExperimentConfig, clients: int) -> None:
    rounds, scheme = config.rounds, config.partition.scheme
    where = f"the partition (partition.scheme={scheme}) has {clients} client(s)"
    needed = min(rounds.min_clients, rounds.clients_per_round)
    if needed > clients:
        raise ConfigError(
            f"rounds.min_clients: got {rounds.min_clients} but {where}, so every round would "
            f"be skipped; accepted: 1..{clients}"
        )
    if rounds.clients_per_round > clients:
        raise ConfigError(
            f"rounds.clients_per_round: got {rounds.clients_per_round} but {where}; "
            f"accepted: 1..{clients}"
        )


def _check_exits(config: ExperimentConfig, dims: ConformerDims) -> None:
    exits = len(dims.exits)
    weights = config.client.exit_weights
    if weights is not None:
        if len(weights) != exits:
            raise ConfigError(
                f"client.exit_weights: got {len(weights)} value(s) {weights} but the model has "
                f"{exits} exits (after layers {list(dims.exits)}); accepted: {exits} weights"
            )
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ConfigError(
                f"client.exit_weights: got {weights}; accepted: weights >= 0, at least one > 0"
            )
    depth = config.client.depth
    if depth is not None and depth > exits:
        raise ConfigError(f"client.depth: got {depth} but the model has {exits} exits; "
                          f"accepted: 1..{exits}")  # fmt: skip


def _check_faults(config: ExperimentConfig) -> None:
    faults = config.faults.choices()
    for kind in ("hang", "hang_native"):
        if kind in faults and config.client.timeout_s is None:
            raise ConfigError(
                f"faults.{kind}: a hanging client is only stopped by client.timeout_s, which "
                "is not set; accepted: set client.timeout_s (e.g. client.timeout_s=5)"
            )
    if "hang_native" in faults and config.executor.kind == "serial":
        raise ConfigError(
            "faults.hang_native: executor.kind=serial cannot stop a client stuck in native "
            "code (only killing its process can); accepted with executor.kind=process or ray "
            "(or use faults.hang)"
        )


def _check_fault_clients(config: ExperimentConfig, clients: set[str]) -> None:
    for kind, choice in config.faults.choices().items():
        unknown = sorted(set(choice.clients or []) - clients)
        if unknown:
            some = ", ".join(sorted(clients)[:10])
            raise ConfigError(
                f"faults.{kind}.clients: no client {', '.join(unknown)} in the partition; "
                f"accepted: client ids such as {some}"
            )


def _check_init_from(config: ExperimentConfig) -> None:
    source = config.model.init_from
    if source is None:
        return
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"model.init_from: got {source!r}, which is not a file; accepted: a model file "
            "written by fedasr (RUN/model.safetensors or RUN/best.safetensors) or null"
        )
    from fedasr.models.io import ModelFileError, load_model_file

    try:
        load_model_file(path)
    except ModelFileError as err:
        raise ConfigError(f"model.init_from: {err}") from None


def check_resume(
    config: ExperimentConfig, run_dir: Path, expected: dict[str, torch.Tensor]
) -> None:
    """A resumed run may change how it goes on (rounds, rates, evaluation...), never what its
    checkpoint holds: refuse such overrides before config.yaml is rewritten. `expected` is the
    server state this config builds, as checkpoint tensors (engine/run_state.server_tensors)."""
    stored = run_dir / "config.yaml"
    if stored.is_file():
        before = load_config(stored).model_dump(mode="json")
        after = config.model_dump(mode="json")
        for key in CHECKPOINT_KEYS:
            old, new = _lookup(before, key), _lookup(after, key)
            if old != new:
                raise ConfigError(
                    f"{key}: got {new!r} but the run in {run_dir} was trained with {old!r}, "
                    f"and its checkpoints hold that model; accepted on --resume: {old!r} "
                    "(start a new run in another run_dir to change it)"
                )
    found = load_latest_checkpoint(run_dir / "checkpoints", set_aside=False)
    if found is None:
        return
    _check_privacy_ledger(found.tensors, expected, found.path)
    held = {k: tuple(v.shape) for k, v in found.tensors.items() if not k.startswith("extras.")}
    built = {k: tuple(v.shape) for k, v in expected.items() if not k.startswith("extras.")}
    if held != built:
        different = sorted(k for k in held.keys() | built.keys() if held.get(k) != built.get(k))
        raise ConfigError(
            f"model / server.optimizer: the checkpoint {found.path} holds "
            f"{_shapes(held, different)} but this config builds {_shapes(built, different)}; "
            f"resume with the model and server-optimizer settings in {stored} unchanged"
        )


def _check_privacy_ledger(
    held: dict[str, torch.Tensor], built: dict[str, torch.Tensor], path: Path
) -> None:
    """A DP guarantee covers a whole run: it cannot start, or stop, at a resume."""
    ledger = "extras.trust.dp."
    trained = any(k.startswith(ledger) for k in held)
    if trained != any(k.startswith(ledger) for k in built):
        how = "with trust.dp" if trained else "without trust.dp"
        raise ConfigError(
            f"trust.dp: the run was trained {how} (checkpoint {path}), and a privacy "
            f"guarantee covers every round of a run; accepted on --resume: {how}, as trained "
            "(start a new run in another run_dir to change it)"
        )


def _shapes(shapes: dict[str, tuple[int, ...]], keys: list[str]) -> str:
    return ", ".join(f"{k} {list(shapes[k]) if k in shapes else 'nothing'}" for k in keys[:4])


def _lookup(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
