"""Run directories that tuners and sweeps reuse: finished ones are skipped, interrupted ones
resumed, and one holding a different experiment is never overwritten."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import yaml

from fedasr.config import ExperimentConfig, with_current_defaults
from fedasr.engine.checkpoint import latest_checkpoint
from fedasr.engine.loop import RoundObserver, RunSummary
from fedasr.errors import ConfigError
from fedasr.experiment import run_federated

log = logging.getLogger(__name__)
RunState = Literal["new", "partial", "finished"]
# keys that do not change what a run computes (executors are bit-identical by design)
IGNORED = ("executor.", "logging.progress")


def run_state(run_dir: Path, config: ExperimentConfig) -> RunState:
    """finished: it ran its rounds.total or stopped early by its own rule (early stopping, time
    budget); partial: rounds were logged and some remain (also after a caller stopped it);
    new: nothing logged."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file() or not metrics.read_text(encoding="utf-8").strip():
        return "new"
    if not (run_dir / "model.safetensors").is_file():
        return "partial"  # the final model is exported last: the process died before
    loop = _latest_loop_state(run_dir) or {}
    # a stop the run made itself (early stopping, a time budget: any plug-in) ends it; a
    # caller's stop (a tuner's budget or pruner) is not checkpointed, and a resume goes on
    stopped = loop.get("stop") not in (None, "caller") or loop.get("stopped_early")
    if loop.get("round", 0) >= config.rounds.total or stopped:
        return "finished"
    return "partial"


def _latest_loop_state(run_dir: Path) -> dict[str, Any] | None:
    latest = latest_checkpoint(run_dir / "checkpoints")
    if latest is None:
        return None
    state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
    loop = state.get("loop")
    return loop if isinstance(loop, dict) else None


def config_differences(run_dir: Path, config: ExperimentConfig) -> list[str]:
    """Keys whose value in RUN/config.yaml differs from `config` (ignoring executors and
    keys added to the schema since that run, at their defaults)."""
    stored_path = run_dir / "config.yaml"
    if not stored_path.is_file():
        return []
    stored = with_current_defaults(yaml.safe_load(stored_path.read_text(encoding="utf-8")) or {})
    wanted = yaml.safe_load(config.to_yaml())
    old, new = _flatten(stored), _flatten(wanted)
    keys = sorted(set(old) | set(new))
    return [
        f"{key}: {old.get(key)!r} there, {new.get(key)!r} now"
        for key in keys
        if old.get(key) != new.get(key) and not key.startswith(IGNORED)
    ]


def run_or_resume(
    config: ExperimentConfig, on_round: RoundObserver | None = None, progress: bool = False
) -> tuple[RunState, RunSummary | None]:
    """Run `config` in its run_dir, resume it, or skip it when it finished; the state found
    comes back with the summary (None when skipped)."""
    run_dir = config.resolved_run_dir()
    state = run_state(run_dir, config)
    differences = config_differences(run_dir, config) if state != "new" else []
    if differences:
        raise ConfigError(
            f"{run_dir} holds a run of another config ({'; '.join(differences[:5])}); "
            "choose another directory or remove that run yourself"
        )
    if state == "finished":
        log.info("%s: finished before, skipped", run_dir)
        return state, None
    if state == "partial":
        log.info("%s: interrupted before, resuming", run_dir)
    summary = run_federated(config, resume=state == "partial", progress=progress, on_round=on_round)
    return state, summary


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat
