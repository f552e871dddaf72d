"""`write_report`: load runs, write OUT/plots/*.png and OUT/report.html."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fedasr.report.cost import CostUnit, cost_unit
from fedasr.report.cost_section import (
    CostRow,
    cost_html,
    cost_rows,
    cost_units_logged,
    write_cost_plots,
)
from fedasr.report.html import render_report, write_text_atomic
from fedasr.report.metrics import ReportError, Run, load_run, metric_keys
from fedasr.report.plots import PlotFile, write_plots
from fedasr.report.summary import SummaryRow, Target, choose_target, summary_rows

DEFAULT_METRICS = ("heldout_wer", "test_wer")


@dataclass
class Report:
    out_dir: Path
    html: Path
    runs: list[Run]
    rows: list[SummaryRow]
    target: Target
    plots: list[PlotFile]
    notes: list[str]
    cost_rows: list[CostRow]
    cost_units: list[CostUnit]


def default_out_dir(run_dirs: Sequence[Path], now: datetime | None = None) -> Path:
    """A lone run reports into its own directory; a comparison gets reports/<timestamp>."""
    if len(run_dirs) == 1:
        return Path(run_dirs[0])
    return Path("reports") / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def load_runs(run_dirs: Sequence[Path], labels: Mapping[Path, str] | None = None) -> list[Run]:
    """Load each run; labels by resolved path win over config names; clashes get a suffix."""
    by_path = {Path(path).resolve(): label for path, label in (labels or {}).items()}
    runs = [load_run(path, by_path.get(Path(path).resolve())) for path in run_dirs]
    seen: dict[str, int] = {}
    for run in runs:  # two runs named alike would be indistinguishable in every legend
        seen[run.label] = seen.get(run.label, 0) + 1
        if seen[run.label] > 1:
            run.label = f"{run.label} #{seen[run.label]}"
    return runs


def write_report(
    run_dirs: Sequence[Path],
    out_dir: Path | None = None,
    metric: str | None = None,
    labels: Mapping[Path, str] | None = None,
    target: float | None = None,
    cost_units: Sequence[str] = (),
    intro: Sequence[str] = (),
) -> Report:
    """Load the runs and write OUT/plots/*.png and OUT/report.html (`intro`: plain-text
    paragraphs that open the page, e.g. the demo's story).

    `metric` drives the cost plots, the target, speed-up and WERR; by default the first of
    DEFAULT_METRICS that some run logs (a run that has not evaluated yet still gets a report).
    `cost_units` (names in fedasr.report.cost.UNITS) add one WER-vs-cost figure each.
    """
    if not run_dirs:
        raise ReportError("no run directory given")
    plotted_units = [cost_unit(name) for name in cost_units]  # a typo fails before any output
    runs = load_runs(run_dirs, labels)
    notes = [note for run in runs for note in run.warnings]
    metric = choose_metric(runs, metric, notes)
    out = out_dir or default_out_dir(run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    chosen = choose_target(runs, metric, target)
    rows = summary_rows(runs, metric, chosen)
    plots = write_plots(runs, out, metric)
    plots += write_cost_plots(runs, out, metric, plotted_units, chosen)
    units = cost_units_logged(runs)
    costs = cost_rows(runs, chosen)
    html = out / "report.html"
    page = render_report(
        runs, rows, chosen, plots, notes, intro=intro, sections=[cost_html(costs, units, chosen)]
    )
    write_text_atomic(html, page)
    return Report(out, html, runs, rows, chosen, plots, notes, costs, units)


def choose_metric(runs: Sequence[Run], metric: str | None, notes: list[str]) -> str:
    """The metric asked for (an error if no run logs it: likely a typo), else a default."""
    available = metric_keys(runs)
    if metric is not None:
        if metric not in available:
            raise ReportError(
                f"--metric {metric}: no run logs it; logged keys: {', '.join(available) or 'none'}"
            )
        return metric
    for candidate in DEFAULT_METRICS:
        if candidate in available:
            return candidate
    notes.append(f"no run logs {' or '.join(DEFAULT_METRICS)} yet: WER plots and targets are empty")
    return DEFAULT_METRICS[0]
