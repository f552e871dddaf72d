"""Summary rows against the hand-computed numbers in conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedasr.report import choose_target, load_run, summary_rows
from fedasr.report.table import summary_table


def test_rows_compare_every_run_with_the_first(runs: dict[str, Path]):
    loaded = [load_run(runs[name]) for name in ("base", "fast", "central")]
    target = choose_target(loaded, "heldout_wer")
    assert target.value == 0.5 and target.baseline_rounds == 6
    base, fast, central = summary_rows(loaded, "heldout_wer", target)

    assert base.steps == 6 and base.rounds_to_target == 6 and base.speedup == 1.0
    assert base.best["heldout_wer"] == (6, 0.5) and base.final["test_wer"] == (6, 0.4)
    assert base.bytes_total == 6000 and base.client_flops == 6e9
    assert base.audio_hours == pytest.approx(0.06) and base.wall_s == 12.0
    assert base.failures == 0 and base.werr == 0.0

    assert fast.rounds_to_target == 4 and fast.examples_to_target == 40
    assert fast.speedup == 1.5 and fast.werr == pytest.approx(0.1) and fast.failures == 1

    assert central.kind == "centralized" and central.steps == 3
    assert central.rounds_to_target == 2  # epoch 1 is 0.6, epoch 2 is 0.4 <= 0.5
    assert central.speedup is None  # epochs and rounds are different units
    assert central.bytes_total is None and central.failures is None
    assert central.wall_s == 90.0  # the trainer's wall_s is already cumulative
    assert central.werr == pytest.approx((0.5 - 0.3) / 0.5)


def test_explicit_target_and_missing_keys_degrade(tmp_path: Path):
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"round": 1, "lr": 0.1}) + "\n")
    bare = load_run(tmp_path)
    target = choose_target([bare], "heldout_wer", 0.3)
    (row,) = summary_rows([bare], "heldout_wer", target)
    assert row.best["heldout_wer"] is None and row.rounds_to_target is None
    assert row.bytes_total is None and row.wall_s is None and row.werr is None
    headers, cells = summary_table([row], target)
    assert len(headers) == len(cells[0]) and cells[0][0] == tmp_path.name
