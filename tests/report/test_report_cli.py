"""`fedasr report`: the plots and the self-contained HTML page, and clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_runs import central_records, federated_records, write_run
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.report.build import write_report

ALL_PLOTS = {
    "wer_vs_round", "wer_vs_epoch", "wer_vs_bytes", "wer_vs_flops", "wer_vs_examples",
    "wer_vs_sim_hours", "loss", "per_exit_wer",
}  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def report(*args: str):
    return CliRunner().invoke(app, ["report", *args])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """One comparison of all three runs, shared by the checks below (plotting takes seconds)."""
    root = tmp_path_factory.mktemp("runs")
    dirs = [
        write_run(root / "base", federated_records("base")),
        write_run(root / "fast", federated_records("fast")),
        write_run(root / "central", central_records()),
    ]
    with (dirs[2] / "metrics.jsonl").open("a") as handle:
        handle.write('{"epoch": 4, "heldout_w')  # cut by a crash: skipped with a warning
    result = report(*map(str, dirs), "--out", str(root / "out"), "--label", f"FedAdam={dirs[1]}")
    assert result.exit_code == 0, result.output
    return root / "out", result.output


def test_every_plot_is_a_real_png(written):
    out, _ = written
    pngs = {path.stem: path for path in (out / "plots").glob("*.png")}
    assert set(pngs) == ALL_PLOTS
    for path in pngs.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, path


def test_html_is_self_contained_with_labels_table_and_images(written):
    out, output = written
    html = (out / "report.html").read_text()
    for text in ("base", "FedAdam", "central", "1.50×", "10.0 %", "50.00 % (r6)", "45.00 % (r6)",
                 "4 rounds", "6 kB", "6 G", "12.0 s", "90.0 s"):  # fmt: skip
        assert text in html, text
    assert html.count('src="data:image/png;base64,') == len(ALL_PLOTS)
    assert html.count("<details>") == 3 and "seed: 0" in html
    assert not re.search(r"https?://|<script|<link|@import|url\(", html)
    assert "report.html" in output and "1.50×" in output


def test_single_run_reports_into_its_own_directory(runs: dict[str, Path]):
    result = report(str(runs["central"]))
    assert result.exit_code == 0, result.output
    assert (runs["central"] / "report.html").is_file()
    plots = {path.stem for path in (runs["central"] / "plots").glob("*.png")}
    assert plots == {"wer_vs_epoch", "loss", "per_exit_wer"}  # no rounds, no client cost


def test_several_runs_default_to_a_timestamped_reports_dir(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a run that has not evaluated yet still gets a report, with a warning
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "metrics.jsonl").write_text(json.dumps({"round": 1, "train_loss_per_frame": 2}))
    result = report(str(bare), str(bare.parent / "bare"))
    assert result.exit_code == 0, result.output
    assert "no run logs heldout_wer" in result.output
    (out,) = (tmp_path / "reports").iterdir()
    assert (out / "report.html").is_file() and (out / "plots" / "loss.png").is_file()


def test_truncated_last_line_is_skipped_with_a_warning(written):
    out, output = written
    assert "truncated" in output and "metrics.jsonl:4" in output
    assert "metrics.jsonl:4" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda runs, tmp: [str(tmp)], "no metrics.jsonl"),
        (lambda runs, tmp: [str(tmp / "missing")], "no such directory"),
        (lambda runs, tmp: [str(runs["base"]), "--metric", "heldout_werr"], "no run logs it"),
        (lambda runs, tmp: [str(runs["base"]), "--label", "oops"], "expected NAME=RUN_DIR"),
        (lambda runs, tmp: [str(runs["base"]), "--label", f"x={tmp}"], "is not one of the run"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(runs, tmp_path, make_args, message):
    result = report(*make_args(runs, tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_malformed_line_error_names_file_and_line(runs: dict[str, Path]):
    path = runs["fast"] / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    result = report(str(runs["fast"]))
    assert result.exit_code == 2
    assert f"{path}:3: not valid JSON" in result.output


def test_write_report_api_returns_rows_and_plots(runs: dict[str, Path], tmp_path: Path):
    result = write_report([runs["base"], runs["fast"]], tmp_path / "api", metric="test_wer")
    assert result.target.value == 0.4 and result.target.baseline_rounds == 6
    assert [row.rounds_to_target for row in result.rows] == [6, 6]  # fast: 0.45 > 0.4 at r4
    assert {plot.name for plot in result.plots} >= {"wer_vs_round", "wer_vs_sim_hours"}
