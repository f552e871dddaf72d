"""A self-contained HTML report: inline CSS, plots as base64 PNG, no external references,
so the one file can be mailed, archived or opened offline."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from html import escape

from fedasr.report.metrics import Run
from fedasr.report.plots import PlotFile
from fedasr.report.summary import SummaryRow, Target
from fedasr.report.table import count, summary_table, target_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, td:nth-child(2) { text-align: left; }
.scroll { overflow-x: auto; } .note { color: #555; font-size: 0.9em; }
.warn { color: #8a4b00; } figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""


def render_report(
    runs: Sequence[Run],
    rows: Sequence[SummaryRow],
    target: Target,
    plots: Sequence[PlotFile],
    notes: Sequence[str] = (),
    generated: datetime | None = None,
    sections: Sequence[str] = (),
) -> str:
    """The whole report page as one string; `sections` (HTML) go after the summary."""
    when = (generated or datetime.now()).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>fedasr report: {escape(', '.join(run.label for run in runs))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>fedasr report</h1>",
        f'<p class="note">{len(runs)} run(s), generated {when}. The first run is the baseline '
        "for WERR and speed-up (baseline rounds ÷ the run's rounds to reach the target).</p>",
        _warnings(notes),
        "<h2>Summary</h2>",
        f'<p class="note">{escape(target_text(target))}</p>',
        _table(rows, target),
        *sections,
        "<h2>Plots</h2>" if plots else "",
        *(_figure(plot) for plot in plots),
        "<h2>Runs</h2>",
        *(_run_details(run) for run in runs),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _table(rows: Sequence[SummaryRow], target: Target) -> str:
    headers, cells = summary_table(rows, target)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in cells
    )
    return f'<div class="scroll"><table>\n<tr>{head}</tr>\n{body}\n</table></div>'


def _figure(plot: PlotFile) -> str:
    data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
    caption = escape(plot.caption)
    return (
        f'<figure id="{escape(plot.name)}"><img alt="{caption}" '
        f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    )


def _run_details(run: Run) -> str:
    config = run.config_text if run.config_text is not None else "(no config.yaml)"
    return (
        f"<details><summary><b>{escape(run.label)}</b> — {escape(str(run.path))} "
        f"({count(len(run.records), run.step_name)} logged)</summary>"
        f"<pre>{escape(config)}</pre></details>"
    )


def _warnings(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f'<ul class="warn">{items}</ul>'
