"""`fedasr report` draws each tier's WER curve for runs that log per-tier metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import federated_records, write_run

from fedasr.report.build import write_report
from fedasr.report.metrics import load_run
from fedasr.report.tiers import per_tier_wer, tiers_of


def tiered_records() -> list[dict[str, float]]:
    records = federated_records("base")
    for record in records:
        if "heldout_wer" in record:
            for offset, tier in enumerate(("S", "M", "L")):
                record[f"{tier}_heldout_wer"] = record["heldout_wer"] + 0.1 * offset
                record[f"{tier}_test_wer"] = record["test_wer"] + 0.1 * offset
            record["best_L_heldout_wer"] = 0.3  # not a tier
    return records


def test_tiered_runs_get_a_per_tier_figure(tmp_path: Path) -> None:
    tiered = write_run(tmp_path / "tiered", tiered_records())
    plain = write_run(tmp_path / "plain", federated_records("base"))
    assert tiers_of(load_run(tiered)) == ["S", "M", "L"]
    assert per_tier_wer([load_run(plain)], "heldout_wer") is None
    figure = per_tier_wer([load_run(plain), load_run(tiered)], "heldout_wer")
    assert figure is not None
    _, heldout_panel = figure.axes
    labels = [line.get_label() for line in heldout_panel.get_lines()]
    assert labels == ["tiered S", "tiered M", "tiered L"]
    assert list(heldout_panel.get_lines()[2].get_ydata()) == pytest.approx([100.0, 80.0, 70.0])
    report = write_report([plain, tiered], tmp_path / "out", metric="L_heldout_wer")
    assert "per_tier_wer" in {plot.name for plot in report.plots}
