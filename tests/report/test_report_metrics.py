"""Loading metrics.jsonl robustly, and the pure queries benchmarks reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from report_runs import federated_records, write_run

from fedasr.report import (
    ReportError,
    best_point,
    final_point,
    load_run,
    metric_value,
    rounds_to_reach,
    series,
    speedup,
    werr,
)


def test_rounds_to_reach_matches_hand_counts():
    base, fast = federated_records("base"), federated_records("fast")
    assert rounds_to_reach(base, "heldout_wer", 0.5) == 6
    assert rounds_to_reach(fast, "heldout_wer", 0.5) == 4  # exactly equal counts as reached
    assert rounds_to_reach(fast, "heldout_wer", 0.75) == 2
    assert rounds_to_reach(base, "heldout_wer", 0.49) is None
    assert rounds_to_reach(base, "not_logged", 1.0) is None
    assert speedup(6, 4) == 1.5
    assert speedup(6, None) is None


def test_werr_is_relative_reduction():
    assert werr(0.5, 0.45) == pytest.approx(0.1)
    assert werr(0.2, 0.25) == pytest.approx(-0.25)
    assert werr(0.0, 0.1) is None
    assert werr(None, 0.1) is None


def test_best_and_final_points_carry_their_round():
    base = federated_records("base")
    assert best_point(base, "heldout_wer") == (6, 0.5)
    assert final_point(base, "test_wer") == (6, 0.4)
    assert [p.step for p in series(base, "heldout_wer")] == [2, 4, 6]
    assert best_point(base, "absent") is None


def test_metric_value_walks_nested_keys_and_rejects_non_numbers():
    record = {"cumulative": {"flops": 3e9}, "x": None, "flag": True, "nan": math.nan, "s": "1"}
    assert metric_value(record, "cumulative.flops") == 3e9
    for key in ("x", "flag", "nan", "s", "missing", "cumulative.missing", "x.y"):
        assert metric_value(record, key) is None


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path):
    run = write_run(tmp_path / "cut", federated_records("base", rounds=3))
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"round": 4, "cost": {"bytes_to')  # the crash hit mid-write
    loaded = load_run(run)
    assert [r["round"] for r in loaded.records] == [1, 2, 3]
    assert any("metrics.jsonl:4" in note and "truncated" in note for note in loaded.warnings)


def test_malformed_middle_line_names_file_and_line(tmp_path: Path):
    lines = [json.dumps(r) for r in federated_records("base", rounds=3)]
    lines[1] = lines[1][:20]
    run = tmp_path / "bad"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match=r"metrics\.jsonl:2: not valid JSON"):
        load_run(run)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ('{"round": 1, "lo', "no complete line"),
        ('{"round": 1}\n[1, 2]\n{"round": 3}\n', r"metrics\.jsonl:2: expected a JSON object"),
    ],
)
def test_unusable_metrics_are_clear_errors(tmp_path: Path, content: str, message: str):
    (tmp_path / "metrics.jsonl").write_text(content)
    with pytest.raises(ReportError, match=message):
        load_run(tmp_path)


def test_missing_directory_or_metrics_file(tmp_path: Path):
    with pytest.raises(ReportError, match="no such directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(ReportError, match=r"no metrics\.jsonl"):
        load_run(tmp_path)


def test_repeated_round_keeps_the_later_line_and_config_is_optional(tmp_path: Path):
    records = [{"round": 1, "test_wer": 0.9}, {"round": 2}, {"round": 1, "test_wer": 0.8}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(tmp_path)
    assert [r["round"] for r in run.records] == [1, 2]
    assert run.records[0]["test_wer"] == 0.8
    assert run.label == tmp_path.name and run.config_text is None
    assert any("no config.yaml" in note for note in run.warnings)


def test_centralized_runs_are_recognized_by_epochs(runs: dict[str, Path]):
    central, base = load_run(runs["central"]), load_run(runs["base"], label="FedAvg")
    assert central.centralized and central.step_name == "epoch"
    assert not base.centralized and base.label == "FedAvg"
    assert load_run(runs["fast"]).label == "fast"  # from config.yaml's name
