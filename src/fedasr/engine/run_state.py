"""What a checkpoint holds and how it comes back: the loop's counters, the server state
(every parameter set, the server optimizer, extras) and each plug-in's state.

Tensor names in the checkpoint: `params` (the main set) or `params.NAME`, `optimizer.KEY`,
`extras.KEY`; everything else is JSON (`loop`, `plugins`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.base import ServerState
from fedasr.algorithms.spec import MAIN
from fedasr.engine.checkpoint import load_latest_checkpoint, save_checkpoint
from fedasr.engine.cost import CostTotals
from fedasr.engine.plugins import Plugin


@dataclass
class LoopState:
    """Everything besides tensors and plug-ins that a checkpoint must restore."""

    round: int = 0  # rounds completed
    best_metric: float = math.inf
    best_round: int = 0
    cumulative: CostTotals = field(default_factory=CostTotals)
    wall_s: float = 0.0
    stop: str | None = None  # why the run ended early: a plug-in's name, or "caller"
    rounds_aggregated: int = 0  # rounds whose cohort reached rounds.min_clients
    skipped_in_a_row: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cumulative"] = asdict(self.cumulative)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopState:
        known = {f.name for f in fields(cls)}
        data = {"rounds_aggregated": data["round"], **data}  # a checkpoint older than the field
        state = cls(**{k: v for k, v in data.items() if k in known and k != "cumulative"})
        state.cumulative = CostTotals(**data["cumulative"])
        if data.get("stopped_early") and state.stop is None:  # a checkpoint of fedasr < 0.2
            state.stop = f"legacy:{data.get('evals_without_improvement', 0)}"
        return state


def server_tensors(server: ServerState) -> dict[str, torch.Tensor]:
    tensors = {("params" if k == MAIN else f"params.{k}"): v for k, v in server.params.items()}
    tensors.update({f"optimizer.{k}": v for k, v in server.optimizer.items()})
    tensors.update({f"extras.{k}": v for k, v in server.extras.items()})
    return tensors


def server_from_tensors(tensors: dict[str, torch.Tensor], round_index: int) -> ServerState:
    def section(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    params = {MAIN: tensors["params"], **section("params.")} if "params" in tensors else {}
    params = params or section("params.")
    return ServerState(params, section("optimizer."), round_index, section("extras."))


def save_run_state(
    directory: Path, state: LoopState, server: ServerState, plugins: Sequence[Plugin], keep: int
) -> Path:
    json_state = {
        "loop": state.to_json(),
        "plugins": {plugin.name: plugin.state_dict() for plugin in plugins},
    }
    return save_checkpoint(directory, state.round, server_tensors(server), json_state, keep)


def load_run_state(
    directory: Path, plugins: Sequence[Plugin]
) -> tuple[LoopState, ServerState] | None:
    """The newest checkpoint's loop state and server state (plug-ins restored in place)."""
    found = load_latest_checkpoint(directory)  # the newest readable one, said so
    if found is None:
        return None
    tensors, saved = found.tensors, found.state
    state = LoopState.from_json(saved["loop"])
    plugin_states = saved.get("plugins", saved.get("hooks", {}))  # "hooks": fedasr < 0.2
    for plugin in plugins:
        plugin.load_state_dict(plugin_states.get(plugin.name, {}))
    return state, server_from_tensors(tensors, state.round)
