"""The summary table as text cells, shared by the HTML report and the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from fedasr.report.metrics import Point
from fedasr.report.plots import pretty
from fedasr.report.summary import SummaryRow, Target

DASH = "—"
SI_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float | None, unit: str = "") -> str:
    """12_300_000 -> "12.3 M" + unit; plain below a thousand."""
    if value is None:
        return DASH
    for scale, prefix in SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def percent(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{100 * value:.{digits}f} %"


def at_step(point: Point | None, step_name: str, scale: float = 100.0) -> str:
    """ "42.10 % (r12)": a value and the round (r) or epoch (e) it was logged at."""
    if point is None:
        return DASH
    value = f"{scale * point.value:.2f} %" if scale == 100.0 else f"{point.value:.4g}"
    return f"{value} ({step_name[0]}{point.step})"


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.2f} h"


def target_text(target: Target) -> str:
    if target.value is None:
        return f"no target: the first run logs no {target.metric}"
    scale = 100.0 if target.metric.endswith(("_wer", "_cer")) else 1.0
    value = f"{scale * target.value:.2f} %" if scale == 100.0 else f"{target.value:.4g}"
    rounds = target.baseline_rounds
    reached = "" if rounds is None else f", reached by the baseline at {target.step_name} {rounds}"
    return f"target {pretty(target.metric, unit=False)} {value} ({target.source}{reached})"


def summary_table(rows: Sequence[SummaryRow], target: Target) -> tuple[list[str], list[list[str]]]:
    """Headers and cells, one row per run, in the order the runs were given."""
    keys = list(rows[0].best) if rows else []
    headers = ["run", "kind", "rounds"]
    for key in keys:
        name = pretty(key, unit=False)
        headers += [f"best {name}", f"final {name}"]
    headers += [
        "rounds to target", "example-passes to target", "speed-up",
        f"WERR vs {rows[0].label if rows else 'first'}", "bytes (down+up)", "client FLOPs",
        "audio hours", "wall time", "failed clients",
    ]  # fmt: skip
    cells = [_cells(row, keys) for row in rows]
    if any(row.epsilon is not None for row in rows):  # DP runs: the privacy they spent
        headers.append("privacy ε (δ)")
        for row, line in zip(rows, cells, strict=True):
            line.append(privacy(row.epsilon, row.delta))
    return headers, cells


def privacy(epsilon: float | None, delta: float | None) -> str:
    if epsilon is None:
        return DASH
    return f"{epsilon:.3g} ({delta:.2g})" if delta is not None else f"{epsilon:.3g}"


def _cells(row: SummaryRow, keys: list[str]) -> list[str]:
    cells = [row.label, row.kind, count(row.steps, row.step_name)]
    for key in keys:
        scale = 100.0 if key.endswith(("_wer", "_cer")) else 1.0
        cells += [at_step(row.best[key], row.step_name, scale),
                  at_step(row.final[key], row.step_name, scale)]  # fmt: skip
    reached = DASH if row.rounds_to_target is None else count(row.rounds_to_target, row.step_name)
    cells += [
        reached,
        si(row.examples_to_target),
        DASH if row.speedup is None else f"{row.speedup:.2f}×",
        percent(row.werr, 1),
        si(row.bytes_total, "B"),
        si(row.client_flops),
        DASH if row.audio_hours is None else f"{row.audio_hours:.3g}",
        duration(row.wall_s),
        DASH if row.failures is None else str(row.failures),
    ]
    return cells
