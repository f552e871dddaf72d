"""scripts/fedkad_tables.py on hand-made run directories: seed pairing, WER differences,
bytes ratios, bytes to a target WER, and unfinished runs left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fedkad_tables.py"


def _run_dir(
    root: Path, name: str, records: list[dict[str, object]], finished: bool = True
) -> None:
    directory = root / name
    directory.mkdir()
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if finished:
        (directory / "model-S.safetensors").write_bytes(b"")


def _record(round_: int, mb: float, wers: dict[str, float]) -> dict[str, object]:
    cumulative = {"bytes_up": mb * 5e5, "bytes_down": mb * 5e5, "bytes_total": mb * 1e6,
                  "flops": 1e12}  # fmt: skip
    return {"round": round_, "cumulative": cumulative, **wers}


def _tiered(s: float, m: float, l: float) -> dict[str, float]:  # noqa: E741
    return {"S_heldout_wer": s, "M_heldout_wer": m, "L_heldout_wer": l,
            "S_test_wer": s, "M_test_wer": m, "L_test_wer": l}  # fmt: skip


def test_tables_pair_seeds_and_find_the_bytes_to_a_target(tmp_path: Path) -> None:
    _run_dir(tmp_path, "fedkad-uniform-s0", [_record(5, 100, _tiered(0.9, 0.7, 0.9)),
                                             _record(10, 200, _tiered(0.5, 0.5, 0.7))])  # fmt: skip
    _run_dir(tmp_path, "fedkad-uniform-s1", [_record(10, 300, _tiered(0.6, 0.6, 0.8))])
    one_model = {"heldout_wer": 0.55, "test_wer": 0.55}
    _run_dir(tmp_path, "fedavgL-uniform-s0", [_record(10, 800, one_model)])
    _run_dir(tmp_path, "fedavgL-uniform-s1", [_record(10, 900, {})], finished=False)
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    sections = [part.splitlines() for part in done.stdout.split("### ")[1:]]
    first = (next(line for line in part if line.startswith("| FedKAD")) for part in sections)
    wer, _, paired, to_target = first
    # FedKAD over two seeds: S held-out 50 and 60 -> 55.0 ± 7.1; FedAvg all-L: only seed 0
    assert wer.endswith("| 2 | 55.0 ± 7.1 | 55.0 ± 7.1 | 75.0 ± 7.1 | 55.0 ± 7.1 | 55.0 ± 7.1 | "
                        "75.0 ± 7.1 | 125.0 ± 35.4 | 125.0 ± 35.4 | 1.0 ± 0.0 | — |")  # fmt: skip
    assert "| FedAvg, all L model | 1 | 55.0 | 55.0 | 55.0 |" in done.stdout
    # paired on seed 0 only: 50 - 55, 50 - 55, 70 - 55; bytes 200 / 800
    assert paired.endswith("| 1 | -5.0 | -5.0 | 15.0 | -5.0 | -5.0 | 15.0 | 0.25 |")
    # <= 80 %: S at round 10 of both seeds (200, 300 MB), M at round 5 of seed 0 (100) and
    # round 10 of seed 1 (300), L 200 and 300; <= 60 %: S and M 200 and 300, L never
    assert to_target.endswith("| 250 ± 71 (2/2) | 200 ± 141 (2/2) | 250 ± 71 (2/2) | "
                              "250 ± 71 (2/2) | 250 ± 71 (2/2) | — (0/2) |")  # fmt: skip
