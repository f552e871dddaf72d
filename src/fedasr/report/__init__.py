"""Run reports: load runs, summarize and compare them, plot, write a self-contained HTML page.

Benchmarks and docs reuse the pure parts: `load_run`, `rounds_to_reach`, `werr`, `summary_rows`.
Plotting (matplotlib) is imported only by `write_report`'s modules, not by this package.
"""

from fedasr.report.metrics import (
    Point,
    ReportError,
    Run,
    best_point,
    final_point,
    load_metrics,
    load_run,
    metric_value,
    rounds_to_reach,
    series,
    speedup,
    werr,
    xy_series,
)
from fedasr.report.summary import SummaryRow, Target, choose_target, summary_rows

__all__ = [
    "Point",
    "ReportError",
    "Run",
    "SummaryRow",
    "Target",
    "best_point",
    "choose_target",
    "final_point",
    "load_metrics",
    "load_run",
    "metric_value",
    "rounds_to_reach",
    "series",
    "speedup",
    "summary_rows",
    "werr",
    "xy_series",
]
