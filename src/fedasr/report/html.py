"""A self-contained HTML report: inline CSS, plots as base64 PNG, no external references,
so the one file can be mailed, archived or opened offline."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from fedasr.report.intro import FIGURE_TEXT, TABLE_TEXT, describe_runs, method_notes
from fedasr.report.metrics import Run
from fedasr.report.plots import PlotFile
from fedasr.report.summary import SummaryRow, Target
from fedasr.report.table import count, summary_table, target_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222;
       padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.3em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.lead { font-size: 1.02em; max-width: 60em; } ul.runs { padding-left: 1.2em; max-width: 70em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; vertical-align: bottom; } th:first-child, td:first-child {
  text-align: left; } td { white-space: nowrap; } td:first-child { white-space: normal; }
.scroll { overflow-x: auto; max-width: 100%; } .note { color: #555; font-size: 0.9em; }
.warn { color: #8a4b00; } figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { max-width: 60em; } figcaption b { display: block; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""


def render_report(
    runs: Sequence[Run],
    rows: Sequence[SummaryRow],
    target: Target,
    plots: Sequence[PlotFile],
    notes: Sequence[str] = (),
    generated: datetime | None = None,
    intro: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> str:
    """The whole report page as one string; `intro` paragraphs (plain text) open it,
    `sections` (HTML) go after the summary."""
    when = (generated or datetime.now()).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>fedasr report: {escape(', '.join(run.label for run in runs))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>fedasr report</h1>",
        *(f'<p class="lead">{escape(paragraph)}</p>' for paragraph in intro),
        _what_was_trained(runs, when),
        _warnings([*method_notes(runs), *notes]),
        "<h2>Summary</h2>",
        f'<p class="note">{escape(TABLE_TEXT)}</p>',
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


def _what_was_trained(runs: Sequence[Run], when: str) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in describe_runs(runs))
    return (
        f'<h2>What was trained</h2>\n<ul class="runs">{items}</ul>\n'
        f'<p class="note">{len(runs)} run(s); report generated {when}.</p>'
    )


def _table(rows: Sequence[SummaryRow], target: Target) -> str:
    """Transposed: one column per run, one row per measure, so the page never grows sideways
    with the number of measures (a few runs fit any laptop screen)."""
    headers, cells = summary_table(rows, target)
    head = "<th>measure</th>" + "".join(f"<th>{escape(row[0])}</th>" for row in cells)
    body = "\n".join(
        f"<tr><td>{escape(header)}</td>"
        + "".join(f"<td>{escape(row[index])}</td>" for row in cells)
        + "</tr>"
        for index, header in enumerate(headers[1:], start=1)
    )
    return f'<div class="scroll"><table>\n<tr>{head}</tr>\n{body}\n</table></div>'


def _figure(plot: PlotFile) -> str:
    data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
    caption = escape(plot.caption)
    text = escape(FIGURE_TEXT.get(plot.name, ""))
    return (
        f'<figure id="{escape(plot.name)}"><img alt="{caption}" '
        f'src="data:image/png;base64,{data}"><figcaption><b>{caption}</b>{text}</figcaption>'
        "</figure>"
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


def write_text_atomic(path: Path, text: str) -> None:
    """A reader (or a browser test) never sees half a page: write aside, then rename."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
