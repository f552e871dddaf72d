"""Synthetic run directories written by hand, with numbers small enough to check by eye.

base (federated): held-out WER 0.8, 0.6, 0.5 at rounds 2, 4, 6 -> best 0.5 at round 6.
fast (federated): held-out WER 0.7, 0.5, 0.45 at rounds 2, 4, 6 -> reaches 0.5 at round 4,
                  speed-up 6 / 4 = 1.5, WERR (0.5 - 0.45) / 0.5 = 10 %; one failed client;
                  logs sim_time_s (600 s a round).
central (centralized): held-out WER 0.6, 0.4, 0.3 at epochs 1, 2, 3.
Every federated round costs 1000 bytes, 1e9 FLOPs, 10 examples, 0.01 audio hours, 2 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HELDOUT = {"base": [0.8, 0.6, 0.5], "fast": [0.7, 0.5, 0.45]}
TEST = {"base": [0.7, 0.5, 0.4], "fast": [0.6, 0.45, 0.35]}


def write_run(path: Path, records: list[dict[str, Any]], name: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(record) + "\n" for record in records)
    (path / "metrics.jsonl").write_text(lines)
    (path / "config.yaml").write_text(f"name: {name or path.name}\nseed: 0\nrounds:\n  total: 6\n")
    return path


def federated_records(name: str, rounds: int = 6) -> list[dict[str, Any]]:
    records = []
    for r in range(1, rounds + 1):
        failed = 1 if (name == "fast" and r == 3) else 0
        cost = {"bytes_total": 1000, "flops": 1e9, "examples": 10, "audio_hours": 0.01}
        record: dict[str, Any] = {
            "round": r,
            "lr": 0.1,
            "clients": {"sampled": 4, "succeeded": 4 - failed, "failed": failed, "attempts": 1},
            "failures": [{"client": 7, "error": "boom"}] if failed else [],
            "train_loss_per_frame": 2.0 / r,
            "cost": cost,
            "cumulative": {key: value * r for key, value in cost.items()} | {"wall_s": 2.0 * r},
            "wall_s": 2.0,
        }
        if name == "fast":
            record["sim_time_s"] = 600.0 * r
        if r % 2 == 0:
            index = r // 2 - 1
            record["heldout_wer"] = HELDOUT[name][index]
            record["test_wer"] = TEST[name][index]
            record["heldout_wer_per_exit"] = [0.9, 0.7, HELDOUT[name][index]]
            record["test_wer_per_exit"] = [0.8, 0.6, TEST[name][index]]
        records.append(record)
    return records


def central_records() -> list[dict[str, Any]]:
    return [
        {"epoch": e, "steps": 50 * e, "lr": 0.001, "train_loss_per_frame": 1.0 / e,
         "wall_s": 30.0 * e, "test_wer": wer - 0.1, "heldout_wer": wer,
         "heldout_wer_per_exit": [0.8, 0.5, wer]}
        for e, wer in ((1, 0.6), (2, 0.4), (3, 0.3))
    ]  # fmt: skip
