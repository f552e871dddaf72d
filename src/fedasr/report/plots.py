"""Report figures as PNG files: WER against rounds, bytes, client compute and simulated time,
training loss, per-exit WER. Each figure is skipped when no run logs what it needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are written on servers and in CI

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedasr.report.metrics import Run, best_point, metric_value, series, xy_series
from fedasr.report.tiers import per_tier_wer

WER_SPLITS = ("test_wer", "heldout_wer")
LOSS_KEY = "train_loss_per_frame"
SIM_TIME_KEYS = ("sim_time_s", "cumulative.sim_time_s")


@dataclass
class PlotFile:
    name: str
    path: Path
    caption: str


def pretty(key: str, unit: bool = True) -> str:
    """Axis text for a metric key: heldout_wer -> "held-out WER (%)"."""
    split, _, kind = key.rpartition("_")
    if kind in ("wer", "cer"):
        name = f"{split.replace('heldout', 'held-out').replace('_', ' ')} {kind.upper()}"
        return f"{name} (%)" if unit else name
    return key.replace("_", " ")


def _scale(key: str) -> float:
    return 100.0 if key.endswith(("_wer", "_cer")) else 1.0


def _color(runs: Sequence[Run], run: Run) -> str:
    return f"C{runs.index(run) % 10}"  # one colour per run across every figure


# --------------------------------------------------------------------------------- figures
def wer_vs_round(runs: Sequence[Run], metric: str) -> Figure | None:
    """Federated runs per round; centralized runs as dashed lines at their best WER."""
    federated = [run for run in runs if not run.centralized]
    return _steps_figure(runs, federated, _wer_panels(federated, metric), "round", references=True)


def wer_vs_epoch(runs: Sequence[Run], metric: str) -> Figure | None:
    """Centralized runs evaluated at two epochs or more: a run evaluated only at its end has no
    curve to draw (its one value is the dashed line in the per-round figure)."""
    central = [run for run in runs if run.centralized and _evaluations(run, metric) >= 2]
    return _steps_figure(runs, central, _wer_panels(central, metric), "epoch", references=False)


def _evaluations(run: Run, metric: str) -> int:
    return max(len(series(run.records, key)) for key in (*WER_SPLITS, metric))


def loss_vs_step(runs: Sequence[Run], metric: str) -> Figure | None:
    """Training loss: federated runs against rounds, centralized ones against epochs."""
    groups = [
        ("round", [r for r in runs if not r.centralized and series(r.records, LOSS_KEY)]),
        ("epoch", [r for r in runs if r.centralized and series(r.records, LOSS_KEY)]),
    ]
    groups = [(step, members) for step, members in groups if members]
    if not groups:
        return None
    fig, axes = _figure(len(groups))
    for ax, (step, members) in zip(axes, groups, strict=True):
        for run in members:
            _line(ax, runs, run, series(run.records, LOSS_KEY), 1.0)
        _label(ax, step, "training loss per frame", f"training loss ({step}s)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def wer_vs_cost(
    x_key: str, xlabel: str, scale: float = 1.0, log_x: bool = True
) -> Callable[[Sequence[Run], str], Figure | None]:
    """A figure maker for `metric` against a cumulative cost such as bytes or FLOPs."""

    def make(runs: Sequence[Run], metric: str) -> Figure | None:
        curves = []
        for run in runs:
            pairs = [(x * scale, y) for x, y in xy_series(run.records, x_key, metric)]
            pairs = [(x, y) for x, y in pairs if x > 0 or not log_x]  # log axes need x > 0
            if pairs:
                curves.append((run, pairs))
        if not curves:
            return None
        fig, (ax,) = _figure(1)
        for run, pairs in curves:
            _line(ax, runs, run, pairs, _scale(metric))
        _reference_lines(ax, runs, metric)
        if log_x:
            ax.set_xscale("log")
        _label(ax, xlabel, pretty(metric), f"{pretty(metric, unit=False)} vs {xlabel}")
        return fig

    return make


def sim_time_key(run: Run) -> str | None:
    """Simulated clock time, where a method logs it (top level or among the cumulative totals)."""
    for key in SIM_TIME_KEYS:
        if any(metric_value(record, key) is not None for record in run.records):
            return key
    return None


def wer_vs_sim_hours(runs: Sequence[Run], metric: str) -> Figure | None:
    keyed = [(run, key) for run in runs if (key := sim_time_key(run))]
    if not keyed:
        return None
    fig, (ax,) = _figure(1)
    drawn = False
    for run, key in keyed:
        pairs = [(x / 3600, y) for x, y in xy_series(run.records, key, metric)]
        _line(ax, runs, run, pairs, _scale(metric))
        drawn = drawn or bool(pairs)
    _reference_lines(ax, runs, metric)
    _label(ax, "simulated hours", pretty(metric), f"{pretty(metric, unit=False)} vs simulated time")
    return fig if drawn else None


def per_exit_wer(runs: Sequence[Run], metric: str) -> Figure | None:
    """Grouped bars: WER at each exit at each run's final evaluation (only with >1 exit)."""
    panels = []
    for split in WER_SPLITS:
        finals = [
            (run, values) for run in runs if (values := _final_list(run, f"{split}_per_exit"))
        ]
        if any(len(values) > 1 for _, values in finals):
            panels.append((split, finals))
    if not panels:
        return None
    fig, axes = _figure(len(panels))
    for ax, (split, finals) in zip(axes, panels, strict=True):
        width = 0.8 / len(finals)
        for index, (run, values) in enumerate(finals):
            offset = (index - (len(finals) - 1) / 2) * width  # bars of one exit side by side
            xs = [exit_ + offset for exit_ in range(1, len(values) + 1)]
            ax.bar(xs, [100 * v for v in values], width, color=_color(runs, run), label=run.label)
        ax.set_xticks(range(1, max(len(v) for _, v in finals) + 1))
        _label(ax, "exit", pretty(split), f"{pretty(split, unit=False)} per exit, final evaluation")
    return fig


FIGURES: dict[str, tuple[Callable[[Sequence[Run], str], Figure | None], str]] = {
    "wer_vs_round": (wer_vs_round, "WER per round; dashed: centralized best"),
    "wer_vs_epoch": (wer_vs_epoch, "Centralized baselines: WER per epoch"),
    "wer_vs_bytes": (
        wer_vs_cost("cumulative.bytes_total", "cumulative bytes (down + up)"),
        "WER against communication (log scale)",
    ),
    "wer_vs_flops": (
        wer_vs_cost("cumulative.flops", "cumulative client FLOPs"),
        "WER against client compute (log scale)",
    ),
    "wer_vs_examples": (
        wer_vs_cost("cumulative.examples", "cumulative client example-passes"),
        "WER against client example-passes (log scale)",
    ),
    "wer_vs_sim_hours": (wer_vs_sim_hours, "WER against simulated clock time"),
    "loss": (loss_vs_step, "Training loss per frame"),
    "per_exit_wer": (per_exit_wer, "WER at each exit, final evaluation"),
    "per_tier_wer": (per_tier_wer, "WER of each tier's model per round (tiered runs)"),
}


def write_plots(runs: Sequence[Run], out_dir: Path, metric: str = "heldout_wer") -> list[PlotFile]:
    """Write every figure some run has data for to OUT/plots/NAME.png."""
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (make, caption) in FIGURES.items():
        fig = make(runs, metric)
        if fig is None:
            continue
        path = plots_dir / f"{name}.png"
        # no Software stamp: the same runs give byte-identical images
        fig.savefig(path, dpi=100, metadata={"Software": None})
        written.append(PlotFile(name, path, caption))
    return written


# --------------------------------------------------------------------------------- helpers
def _wer_panels(members: Sequence[Run], metric: str) -> list[str]:
    keys = list(dict.fromkeys([*WER_SPLITS, metric]))
    return [key for key in keys if any(series(run.records, key) for run in members)]


def _steps_figure(
    runs: Sequence[Run], members: Sequence[Run], keys: list[str], step: str, references: bool
) -> Figure | None:
    if not members or not keys:
        return None
    fig, axes = _figure(len(keys))
    for ax, key in zip(axes, keys, strict=True):
        for run in members:
            _line(ax, runs, run, series(run.records, key), _scale(key))
        if references:
            _reference_lines(ax, runs, key)
        _label(ax, step, pretty(key), f"{pretty(key, unit=False)} per {step}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def _figure(panels: int) -> tuple[Figure, list[Axes]]:
    """A row of `panels` axes; one panel is a little wider so its legend fits."""
    width = 7.0 if panels == 1 else 6.0 * panels
    fig = Figure(figsize=(width, 4.5), layout="constrained")
    return fig, list(fig.subplots(1, panels, squeeze=False)[0])


def _line(
    ax: Axes, runs: Sequence[Run], run: Run, points: Sequence[tuple[float, float]], scale: float
) -> None:
    if points:
        ax.plot([x for x, _ in points], [y * scale for _, y in points], marker="o", ms=3,
                color=_color(runs, run), label=run.label)  # fmt: skip


def _reference_lines(ax: Axes, runs: Sequence[Run], key: str) -> None:
    """Centralized runs have no rounds or client cost: their best WER is a level to beat."""
    for run in runs:
        best = best_point(run.records, key) if run.centralized else None
        if best is not None:
            ax.axhline(best.value * _scale(key), linestyle="--", linewidth=1,
                       color=_color(runs, run),
                       label=f"{run.label} (centralized best, epoch {best.step})")  # fmt: skip


def _label(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _final_list(run: Run, key: str) -> list[float] | None:
    for record in reversed(run.records):
        values = record.get(key)
        if isinstance(values, list) and values:
            return [float(v) if isinstance(v, int | float) else float("nan") for v in values]
    return None
