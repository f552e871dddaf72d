"""Cost to a target WER, worked by hand on the synthetic runs of report_runs.py, and the
report's cost section (table, figure, HTML)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import federated_records, write_run
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.report.cost import (
    UNITS,
    cost_to_target,
    cost_unit,
    metric_at_cost,
    total_costs,
)
from fedasr.report.metrics import ReportError

EXAMPLES, SIM = UNITS["examples"], UNITS["sim_hours"]


def test_cost_to_target_is_linear_between_the_evaluations_around_it() -> None:
    base = federated_records("base")  # held-out 0.8, 0.6, 0.5 at rounds 2, 4, 6; 10 examples/round
    reached = cost_to_target(base, "heldout_wer", 0.55, EXAMPLES)
    assert reached is not None
    # 0.6 at 40 examples, 0.5 at 60: 0.55 is half-way -> 50
    assert reached.cost == pytest.approx(50.0)
    assert (reached.before and reached.before.step, reached.step) == (4, 6)
    assert reached.how() == "between rounds 4 and 6"
    fast = federated_records("fast")  # 0.7 at 20 examples, 0.5 at 40; sim 600 s a round
    assert cost_to_target(fast, "heldout_wer", 0.55, EXAMPLES).cost == pytest.approx(35.0)  # type: ignore[union-attr]
    # the same crossing in simulated hours: 1200 s + 0.75 x 1200 s = 2100 s
    assert cost_to_target(fast, "heldout_wer", 0.55, SIM).cost == pytest.approx(2100 / 3600)  # type: ignore[union-attr]


def test_exact_hits_first_evaluations_and_misses() -> None:
    base = federated_records("base")
    assert cost_to_target(base, "heldout_wer", 0.6, EXAMPLES).cost == pytest.approx(40.0)  # type: ignore[union-attr]
    first = cost_to_target(base, "heldout_wer", 0.9, EXAMPLES)  # already below at round 2
    assert first is not None and first.cost == 20.0 and first.before is None
    assert cost_to_target(base, "heldout_wer", 0.4, EXAMPLES) is None  # never reached
    assert cost_to_target(base, "heldout_wer", 0.55, SIM) is None  # base logs no sim time


def test_metric_at_a_cost_budget_and_final_totals() -> None:
    base = federated_records("base")
    assert metric_at_cost(base, "heldout_wer", 30.0, EXAMPLES) == pytest.approx(0.7)
    assert metric_at_cost(base, "heldout_wer", 60.0, EXAMPLES) == pytest.approx(0.5)
    assert metric_at_cost(base, "heldout_wer", 70.0, EXAMPLES) is None  # past the last evaluation
    totals = total_costs(base)
    assert totals["examples"] == 60 and totals["bytes"] == 6000 and totals["rounds"] == 6
    assert totals["audio_hours"] == pytest.approx(0.06) and "sim_hours" not in totals


def test_an_unknown_unit_names_the_accepted_ones() -> None:
    with pytest.raises(ReportError, match="accepted: examples, audio_hours"):
        cost_unit("example")


def test_report_gives_the_cost_to_target_in_every_unit_and_plots_one(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", federated_records("base"))
    fast = write_run(tmp_path / "fast", federated_records("fast"))
    out = tmp_path / "out"
    args = ["report", str(base), str(fast), "--out", str(out), "--target-wer", "0.55",
            "--cost-unit", "examples", "--cost-unit", "sim_hours"]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert (out / "plots" / "wer_vs_cost_examples.png").is_file()
    assert (out / "plots" / "wer_vs_cost_sim_hours.png").is_file()
    html = (out / "report.html").read_text()
    assert "Cost to reach the target" in html and "not logged" in html
    assert "<td>50</td>" in html and "<td>35</td>" in html  # example-passes, by hand above
    assert "0.5833" in html  # fast's simulated hours
    assert "between the last evaluation above the target" in result.output
    missed = CliRunner().invoke(app, [*args[:3], "--out", str(out), "--target", "0.3"])
    assert missed.exit_code == 0 and "not reached" in missed.output


def test_an_unknown_cost_unit_fails_before_writing(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", federated_records("base"))
    result = CliRunner().invoke(
        app, ["report", str(base), "--out", str(tmp_path / "out"), "--cost-unit", "bytez"]
    )
    assert result.exit_code == 2 and "accepted: examples" in result.output
    assert not (tmp_path / "out").exists()
