"""Drive a RayExecutor on a running cluster from a fresh process; write what happened to OUT.

    python ray_cluster_driver.py ADDRESS CORPUS ROOT OUT

A fresh process because a Ray driver fixes its authentication mode and token once per process:
the test process may already have run a local Ray instance with other settings. OUT receives
facts.json, params.pt (after the serial-comparable rounds), and for the killed-actor scenario
before.pt / after.pt (server state before and parameters after the round that follows it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from ray_rounds import ROUNDS, Rounds, mini_overrides, train

from fedasr.config import load_config
from fedasr.engine.ray_executor import RayExecutor
from fedasr.experiment.setup import build_setup


def kill_first_actor_dispatched(executor: RayExecutor) -> list[int]:
    """SIGKILL the actor process that gets the next round's first shard, right after it got it
    (it runs on this machine: both nodes do)."""
    killed: list[int] = []
    dispatch = executor._dispatch

    def dispatch_then_kill(slot: int, *args: Any) -> Any:
        ref = dispatch(slot, *args)
        if not killed:
            killed.append(executor._slots[slot].info.pid)
            os.kill(killed[0], signal.SIGKILL)
        return ref

    executor._dispatch = dispatch_then_kill  # type: ignore[method-assign,assignment]
    return killed


def killed_actor_round(executor: RayExecutor, rounds: Rounds, out: Path) -> dict[str, Any]:
    killed = kill_first_actor_dispatched(executor)
    acc = rounds.run(executor, 0)
    del executor._dispatch  # back to the class's own
    executor.wait_for_actors()
    torch.save(
        {"params": rounds.server.main, "optimizer": rounds.server.optimizer}, out / "before.pt"
    )
    next_round = rounds.run(executor, 1)
    torch.save(rounds.server.main, out / "after.pt")
    return {
        "killed_pid": killed[0],
        "reports": [[r.client_id, r.ok, r.error] for r in acc.reports],
        "pids_after": [info.pid for info in executor.actor_infos],
        "nodes_after": [info.node_id for info in executor.actor_infos],
        "next_round_succeeded": next_round.succeeded,
    }


def main(address: str, corpus: Path, root: Path, out: Path) -> None:
    config = load_config(None, mini_overrides(corpus, root))
    setup = build_setup(config, root / "tokenizer", progress=False)
    executor = RayExecutor(setup.spec, 2, address)
    try:
        facts: dict[str, Any] = {"nodes": [info.node_id for info in executor.actor_infos]}
        torch.save(train(executor, config, setup).server.main, out / "params.pt")
        facts["rounds"] = ROUNDS
        facts.update(killed_actor_round(executor, Rounds(config, setup), out))
    finally:
        executor.close()
    (out / "facts.json").write_text(json.dumps(facts))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
