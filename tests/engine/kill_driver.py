"""Test helper, not a test: run an experiment and SIGKILL this very process at a chosen instant
of a chosen round — as a power cut or `kill -9` would — so that a test can check that
`--resume` recovers from a crash at any instant (tests/engine/test_kill_resume.py).

    python kill_driver.py CONFIG.yaml INSTANT ROUND

INSTANT is one of:
    mid-round       while the round's clients train (after a client / a shard finished)
    mid-checkpoint  half of the checkpoint's tensors written, nothing renamed yet
    mid-metrics     half of the round's metrics line written (a torn line)
    mid-export      half of the final model.safetensors written (ROUND: the last)

The hooks are monkeypatches installed here, in the child process only: the product code has
no test hook on its paths.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def write_half_then_die(path: str | Path) -> None:
    size = Path(path).stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
        os.fsync(handle.fileno())
    die()


def patch_mid_round(kill_round: int) -> None:
    from fedasr.engine import process_pool, shards

    original_update = shards.guarded_update
    serial_calls = [0]

    def update(worker: Any, task: Any, broadcast: Any, client: Any) -> Any:  # serial: here
        result = original_update(worker, task, broadcast, client)
        serial_calls[0] += task.round == kill_round
        if serial_calls[0] == 2:
            die()
        return result

    shards.guarded_update = update  # type: ignore[assignment]
    original_receive = process_pool.ProcessExecutor._receive

    def receive(self: Any, slot: Any, round_: Any) -> None:  # process pool: the parent
        original_receive(self, slot, round_)
        if self.current_round == kill_round and round_.results:  # one shard done, others not
            die()

    original_run = process_pool.ProcessExecutor.run

    def run(self: Any, planned: Any, broadcast: Any, client: Any) -> Any:
        self.current_round = broadcast.round
        return original_run(self, planned, broadcast, client)

    process_pool.ProcessExecutor._receive = receive  # type: ignore[method-assign]
    process_pool.ProcessExecutor.run = run  # type: ignore[method-assign]


def patch_mid_checkpoint(kill_round: int) -> None:
    from fedasr.engine import checkpoint

    original = checkpoint.save_file

    def save_file(tensors: Any, filename: str) -> None:
        original(tensors, filename)
        if Path(filename).parent.name.endswith(f"round-{kill_round + 1:06d}"):
            write_half_then_die(filename)

    checkpoint.save_file = save_file


def patch_mid_metrics(kill_round: int) -> None:
    import json

    from fedasr.engine import rundir

    original = rundir.append_line

    def append_line(path: str | Path, line: str) -> None:
        if json.loads(line).get("round") == kill_round + 1:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line[: len(line) // 2])
                handle.flush()
                os.fsync(handle.fileno())
            die()
        original(path, line)

    rundir.append_line = append_line


def patch_mid_export(kill_round: int) -> None:
    from fedasr.engine import loop
    from fedasr.models import io

    original_export = loop.FederatedRun._export
    original_save = io.save_file

    def export(self: Any, stem: str) -> None:
        io.kill_now = self.state.round == kill_round + 1 and stem == "model"  # type: ignore[attr-defined]
        original_export(self, stem)

    def save_file(tensors: Any, filename: str, metadata: Any = None) -> None:
        original_save(tensors, filename, metadata=metadata)
        if getattr(io, "kill_now", False):
            write_half_then_die(filename)

    loop.FederatedRun._export = export  # type: ignore[method-assign]
    io.save_file = save_file


INSTANTS = {
    "mid-round": patch_mid_round,
    "mid-checkpoint": patch_mid_checkpoint,
    "mid-metrics": patch_mid_metrics,
    "mid-export": patch_mid_export,
}


def main() -> None:
    config_path, instant, kill_round = sys.argv[1], sys.argv[2], int(sys.argv[3]) - 1
    from fedasr.config import load_config
    from fedasr.experiment import run_federated

    INSTANTS[instant](kill_round)
    run_federated(load_config(config_path), progress=False)
    sys.exit("the run ended without reaching the kill instant")


if __name__ == "__main__":
    main()
