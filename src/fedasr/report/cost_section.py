"""The report's cost section: the cost to reach the target in every unit, and WER against a
chosen cost unit for all runs on one figure (`fedasr report --target 0.3 --cost-unit examples`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from fedasr.report.cost import UNITS, CostUnit, Reached, cost_to_target, eval_points, logs_unit
from fedasr.report.metrics import Run
from fedasr.report.plots import PlotFile, _color, _figure, _label, _line, _scale, pretty
from fedasr.report.summary import Target
from fedasr.report.table import DASH, si

NOT_REACHED = "not reached"
HOW = (
    "Linear interpolation in cost between the last evaluation above the target and the first "
    "at or below it; a run already at the target at its first evaluation is given that "
    "evaluation's cost."
)


@dataclass
class CostRow:
    label: str
    reached: dict[str, Reached | None] = field(default_factory=dict)  # unit -> where
    logged: set[str] = field(default_factory=set)  # the units this run logs


def cost_units_logged(runs: Sequence[Run]) -> list[CostUnit]:
    """The units at least one federated run logs, in UNITS order."""
    federated = [run for run in runs if not run.centralized]
    return [unit for unit in UNITS.values() if any(logs_unit(r.records, unit) for r in federated)]


def cost_rows(runs: Sequence[Run], target: Target) -> list[CostRow]:
    """One row per federated run (a centralized run has no client cost)."""
    rows = []
    units = cost_units_logged(runs)
    for run in runs:
        if run.centralized:
            continue
        row = CostRow(run.label)
        for unit in units:
            if not logs_unit(run.records, unit):
                continue
            row.logged.add(unit.name)
            row.reached[unit.name] = (
                None
                if target.value is None
                else cost_to_target(run.records, target.metric, target.value, unit)
            )
        rows.append(row)
    return rows


def cost_table(
    rows: Sequence[CostRow], units: Sequence[CostUnit]
) -> tuple[list[str], list[list[str]]]:
    headers = ["run", "reached at round", *(unit.label for unit in units)]
    cells = []
    for row in rows:
        first = next((r for r in row.reached.values() if r is not None), None)
        line = [row.label, DASH if first is None else str(first.step)]
        for unit in units:
            if unit.name not in row.logged:
                line.append("not logged")
                continue
            reached = row.reached.get(unit.name)
            line.append(NOT_REACHED if reached is None else _amount(reached.cost, unit))
        cells.append(line)
    return headers, cells


def _amount(value: float, unit: CostUnit) -> str:
    if unit.name.startswith("bytes"):
        return si(value, "B")
    if unit.name == "rounds":
        return f"{value:.2f}"
    return si(value) if value >= 1000 else f"{value:.4g}"


# --------------------------------------------------------------------------------- figures
def wer_vs_cost_unit(
    runs: Sequence[Run], metric: str, unit: CostUnit, target: float | None
) -> Figure | None:
    """Every federated run's evaluations against cumulative cost; the target as a dotted line
    and each run's interpolated crossing as a cross."""
    curves = [
        (run, points)
        for run in runs
        if not run.centralized and (points := eval_points(run.records, metric, unit))
    ]
    if not curves:
        return None
    scale = _scale(metric)
    fig, (ax,) = _figure(1)
    for run, points in curves:
        _line(ax, runs, run, [(p.cost, p.value) for p in points], scale)
        reached = None if target is None else cost_to_target(run.records, metric, target, unit)
        if reached is not None and target is not None:
            ax.plot([reached.cost], [target * scale], marker="x", ms=9, color=_color(runs, run))
    if target is not None:
        ax.axhline(target * scale, linestyle=":", color="black", linewidth=1,
                   label=f"target {target * scale:.4g}{' %' if scale == 100 else ''}")  # fmt: skip
    title = f"{pretty(metric, unit=False)} vs {unit.label}"
    _label(ax, unit.label, pretty(metric), title)
    return fig


def write_cost_plots(
    runs: Sequence[Run], out_dir: Path, metric: str, units: Sequence[CostUnit], target: Target
) -> list[PlotFile]:
    """OUT/plots/wer_vs_cost_<unit>.png for each unit asked for that some run logs."""
    written = []
    for unit in units:
        fig = wer_vs_cost_unit(runs, metric, unit, target.value)
        if fig is None:
            continue
        path = out_dir / "plots" / f"wer_vs_cost_{unit.name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, metadata={"Software": None})
        caption = f"{pretty(metric, unit=False)} against {unit.label}, all runs; crosses: target"
        written.append(PlotFile(f"wer_vs_cost_{unit.name}", path, caption))
    return written


# --------------------------------------------------------------------------------- HTML
def cost_html(rows: Sequence[CostRow], units: Sequence[CostUnit], target: Target) -> str:
    """The section as HTML (inserted after the summary by `write_report`)."""
    if not rows or not units:
        return ""
    headers, cells = cost_table(rows, units)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in cells
    )
    return (
        '<h2 id="cost-to-target">Cost to reach the target</h2>\n'
        f'<p class="note">{escape(target_sentence(target))} {escape(HOW)}</p>\n'
        f'<div class="scroll"><table>\n<tr>{head}</tr>\n{body}\n</table></div>'
    )


def target_sentence(target: Target) -> str:
    if target.value is None:
        return f"No target: the first run logs no {target.metric}."
    scale = _scale(target.metric)
    return f"Target: {target.metric} ≤ {target.value * scale:.4g}{' %' if scale == 100 else ''}."
