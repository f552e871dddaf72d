"""Run one training job unless its run directory already holds it, finished, with the same
settings: what `fedasr demo` and `fedasr reproduce` share.

A run is *finished* when RUN/model.safetensors exists (the engine and the centralized trainer
write it last). It is reused only if RUN/config.yaml resolves to the same experiment as the one
asked for (executor and logging aside: results do not depend on them); anything else is an
error that names the directory: nothing already written is removed or overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fedasr.config import ExperimentConfig, load_config
from fedasr.errors import ConfigError

log = logging.getLogger(__name__)
Kind = Literal["fl", "central"]
# Keys that do not change a run's results (bit-identical across executors, by test); run_dir is
# where the stored config was found, written resolved or not.
NOT_COMPARED = ("executor", "logging", "run_dir")


@dataclass(frozen=True)
class RunSpec:
    """One training job: `fedasr run|train CONFIG OVERRIDES...`."""

    kind: Kind
    config: Path
    overrides: tuple[str, ...] = ()

    def load(self) -> ExperimentConfig:
        return load_config(self.config, list(self.overrides))

    def command(self) -> str:
        verb = "run" if self.kind == "fl" else "train"
        return " ".join(["fedasr", verb, str(self.config), *(_quoted(o) for o in self.overrides)])


def run_state(config: ExperimentConfig) -> str:
    """'missing', 'finished' or 'unfinished' (with the same settings), or 'different' (a run
    with other settings, finished or not)."""
    run_dir = Path(config.resolved_run_dir())
    if not (run_dir / "metrics.jsonl").exists() and not (run_dir / "model.safetensors").exists():
        return "missing"
    stored = run_dir / "config.yaml"
    if not stored.is_file() or _comparable(load_config(stored)) != _comparable(config):
        return "different"
    return "finished" if (run_dir / "model.safetensors").exists() else "unfinished"


def ensure_run(spec: RunSpec, progress: bool = True) -> str:
    """Train `spec` unless it is finished; resume a federated run that stopped part-way.
    Returns what happened: 'reused', 'resumed' or 'trained'."""
    config = spec.load()
    run_dir = Path(config.resolved_run_dir())
    state = run_state(config)
    if state == "finished":
        log.info("reusing the finished run in %s", run_dir)
        return "reused"
    if state == "different":
        raise ConfigError(
            f"{run_dir} holds a run with other settings than `{spec.command()}`; "
            "move it away or choose another run_dir (nothing was changed)"
        )
    resume = state == "unfinished"
    if resume and (spec.kind == "central" or not (run_dir / "checkpoints").is_dir()):
        raise ConfigError(
            f"{run_dir} holds an unfinished run that cannot be resumed; move it away and run "
            f"again (nothing was changed): {spec.command()}"
        )
    if spec.kind == "central":
        from fedasr.experiment.central import train_centralized

        train_centralized(config, progress=progress)
    else:
        from fedasr.experiment import run_federated

        run_federated(config, resume=resume, progress=progress)
    return "resumed" if resume else "trained"


def _comparable(config: ExperimentConfig) -> dict[str, Any]:
    dumped = config.model_dump(mode="json")
    for key in NOT_COMPARED:
        dumped.pop(key, None)
    return dumped


def _quoted(text: str) -> str:
    return f"'{text}'" if any(c in text for c in " {}[]*") else text
