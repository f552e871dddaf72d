"""Tables and figures for docs/results/quality_cost.md, read from run directories.

    python scripts/quality_cost_tables.py --sweep runs/quality_cost --target 0.3 \
        [--arm NAME=RUN_DIR,RUN_DIR,...] [--study STUDY_DIR] [--plot-dir DIR]

--sweep: a `fedasr sweep` output (its sweep.jsonl names the runs and their values); runs are
grouped by non-IID p and local epochs, over seeds. Unfinished runs are left out and listed.
--arm: named groups of runs (e.g. seeds of a tuned setting) for the comparison table.
--study: a `fedasr tune` study directory (STUDY_DIR/study.db): its trials, every state shown.
Spreads are median (min–max) over seeds; "n/r" = not reached; a median over seeds some of
which never reached the target is n/r when half or more did not. Costs to the target are
interpolated linearly in cost between evaluations (fedasr.report.cost.cost_to_target).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fedasr.report.cost import UNITS, cost_to_target, eval_points
from fedasr.report.metrics import Run, load_run
from fedasr.tune.objective import TuneSpec
from fedasr.tune.results import trial_rows
from fedasr.tune.study import SETTINGS

METRIC = "heldout_wer"
EXAMPLES, BYTES = UNITS["examples"], UNITS["bytes"]


def finished(path: Path) -> bool:
    return (path / "model.safetensors").is_file()


def load_sweep(sweep: Path) -> tuple[dict[tuple[float, int], list[Run]], list[str]]:
    """Finished runs by (p, local epochs); the names of the runs left out."""
    groups: dict[tuple[float, int], list[Run]] = defaultdict(list)
    missing = []
    for line in (sweep / "sweep.jsonl").read_text().splitlines():
        entry = json.loads(line)
        path = Path(entry["run_dir"])
        if not path.is_absolute():
            path = sweep / path.name
        if not finished(path):
            missing.append(entry["name"])
            continue
        values = entry["values"]
        key = (float(values["partition.params.p"]), int(values["client.local_epochs"]))
        groups[key].append(load_run(path))
    return dict(sorted(groups.items())), missing


def final_value(run: Run) -> float:
    return eval_points(run.records, METRIC, EXAMPLES)[-1].value


def to_target(run: Run, target: float, unit: str = "examples") -> float:
    reached = cost_to_target(run.records, METRIC, target, UNITS[unit])
    return math.inf if reached is None else reached.cost


def spread(values: Sequence[float], fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    """median (min–max); infinite values (not reached) sort last and print as n/r."""

    def show(value: float) -> str:
        return "n/r" if math.isinf(value) else fmt.format(value * scale)

    if not values:
        return "—"
    ordered = sorted(values)
    median = (
        statistics.median_high(ordered) if math.isinf(ordered[-1]) else statistics.median(ordered)
    )
    if len(ordered) == 1:
        return show(median)
    return f"{show(median)} ({show(ordered[0])}–{show(ordered[-1])})"


def grid_table(groups: dict[tuple[float, int], list[Run]], cell: str, target: float) -> str:
    """Rows: p; columns: local epochs. cell: wer | examples | bytes."""
    ps = sorted({p for p, _ in groups})
    epochs = sorted({e for _, e in groups})
    lines = ["| p | " + " | ".join(f"{e} local epoch{'s' * (e > 1)}" for e in epochs) + " |",
             "|---|" + "---|" * len(epochs)]  # fmt: skip
    for p in ps:
        cells = []
        for e in epochs:
            runs = groups.get((p, e), [])
            if cell == "wer":
                cells.append(spread([final_value(r) for r in runs], scale=100))
            elif cell == "examples":
                cells.append(spread([to_target(r, target) for r in runs], "{:.0f}"))
            else:
                cells.append(spread([to_target(r, target, "bytes") for r in runs], "{:.0f}", 1e-6))
            cells[-1] += f" [{len(runs)}]" if len(runs) != 3 else ""
        lines.append(f"| {p:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def arms_table(arms: dict[str, list[Run]], target: float) -> str:
    lines = ["| arm | seeds | final held-out WER % | example-passes to target | MB to target |"
             " rounds to target |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, runs in arms.items():
        rounds = [to_target(r, target, "rounds") for r in runs]
        lines.append(
            f"| {name} | {len(runs)} | {spread([final_value(r) for r in runs], scale=100)} | "
            f"{spread([to_target(r, target) for r in runs], '{:.0f}')} | "
            f"{spread([to_target(r, target, 'bytes') for r in runs], '{:.1f}', 1e-6)} | "
            f"{spread(rounds, '{:.1f}')} |"
        )
    return "\n".join(lines)


def study_table(study_dir: Path) -> str:
    """Every trial of the study (failed and retried ones too), as `fedasr tune` lists them."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{study_dir / 'study.db'}")
    spec = TuneSpec(**study.user_attrs[SETTINGS]["spec"])
    headers, rows = trial_rows(study, spec)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def median_curve(runs: Sequence[Run]) -> list[tuple[float, float, float, float]]:
    """(cost, median, min, max) at the costs every run evaluated at."""
    by_cost: dict[float, list[float]] = defaultdict(list)
    for run in runs:
        for point in eval_points(run.records, METRIC, EXAMPLES):
            by_cost[point.cost].append(point.value)
    return [(c, statistics.median(v), min(v), max(v))
            for c, v in sorted(by_cost.items()) if len(v) == len(runs)]  # fmt: skip


def curves_figure(groups: dict[tuple[float, int], list[Run]], target: float) -> Figure:
    epochs = sorted({e for _, e in groups})
    fig = Figure(figsize=(5.2 * len(epochs), 4.3), layout="constrained")
    axes = fig.subplots(1, len(epochs), sharey=True, squeeze=False)[0]
    for ax, e in zip(axes, epochs, strict=True):
        for index, p in enumerate(sorted({p for p, _ in groups})):
            _band(ax, median_curve(groups.get((p, e), [])), f"p = {p:g}", f"C{index}")
        _finish(ax, f"{e} local epoch{'s' * (e > 1)}", target)
    axes[0].set_ylabel("held-out WER (%), median and range over seeds")
    return fig


def arms_figure(arms: dict[str, list[Run]], target: float) -> Figure:
    fig = Figure(figsize=(6.5, 4.3), layout="constrained")
    ax = fig.subplots()
    for index, (name, runs) in enumerate(arms.items()):
        _band(ax, median_curve(runs), name, f"C{index}")
    _finish(ax, "tuned vs untuned at p = 0, and IID", target)
    ax.set_ylabel("held-out WER (%), median and range over seeds")
    return fig


def _band(ax: Axes, curve: list[tuple[float, float, float, float]], label: str, color: str) -> None:
    if not curve:
        return
    xs = [c for c, *_ in curve]
    ax.plot(xs, [100 * m for _, m, _, _ in curve], color=color, label=label, marker="o", ms=2)
    ax.fill_between(xs, [100 * lo for *_, lo, _ in curve], [100 * hi for *_, hi in curve],
                    color=color, alpha=0.15, linewidth=0)  # fmt: skip


def _finish(ax: Axes, title: str, target: float) -> None:
    ax.axhline(100 * target, color="black", linestyle=":", linewidth=1, label="target")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("client example-passes (cost C)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def parse_arm(spec: str) -> tuple[str, list[Run]]:
    name, _, paths = spec.partition("=")
    dirs = [Path(p) for p in paths.split(",") if p]
    return name, [load_run(d) for d in dirs if finished(d)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", type=Path, required=True)
    parser.add_argument("--target", type=float, required=True, help="held-out WER, e.g. 0.3")
    parser.add_argument("--arm", action="append", default=[], help="NAME=RUN_DIR,RUN_DIR,...")
    parser.add_argument("--study", type=Path, help="a fedasr tune study directory")
    parser.add_argument("--plot-dir", type=Path)
    args = parser.parse_args()
    groups, missing = load_sweep(args.sweep)
    target = args.target
    print("### Final held-out WER % at the end of the budget (median (min–max) over seeds)\n")
    print(grid_table(groups, "wer", target))
    print(f"\n### Example-passes until held-out WER ≤ {100 * target:g} %\n")
    print(grid_table(groups, "examples", target))
    print(f"\n### MB (down + up) until held-out WER ≤ {100 * target:g} %\n")
    print(grid_table(groups, "bytes", target))
    arms = dict(parse_arm(spec) for spec in args.arm)
    if arms:
        print(f"\n### Arms, target held-out WER ≤ {100 * target:g} %\n")
        print(arms_table(arms, target))
    if args.study:
        print(f"\n### Trials of the study in {args.study} (* = best)\n")
        print(study_table(args.study))
    if missing:
        print(f"\nnot finished (left out): {', '.join(missing)}")
    if args.plot_dir:
        args.plot_dir.mkdir(parents=True, exist_ok=True)
        meta = {"Software": None}
        curves_figure(groups, target).savefig(args.plot_dir / "quality_cost_curves.png", dpi=100,
                                              metadata=meta)  # fmt: skip
        if arms:
            arms_figure(arms, target).savefig(args.plot_dir / "quality_cost_tuned.png", dpi=100,
                                              metadata=meta)  # fmt: skip


if __name__ == "__main__":
    main()
