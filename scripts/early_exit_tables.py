"""Markdown tables for docs/results/early_exit.md, read from run directories (nothing estimated).

    python scripts/early_exit_tables.py --target 0.6 RUN_DIR [RUN_DIR ...]

Run directories without a final model (not run, or stopped) are left out and listed.
Per run: WER per exit at the final evaluation (exits no participating tier trains are shown in
parentheses), totals, the simulated time / rounds / bytes until held-out WER first reaches the
target; per device tier: bytes and client compute per participation; the shape of the per-exit
curve next to the paper's (Ali et al., arXiv 2405.17376, TED-LIUM 3, 6 exits).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fedasr.report.metrics import Run, load_run, metric_value, reach_record

SPLITS = ("test", "heldout")
# The paper's WER per exit (TED-LIUM 3; FedAdam over mixed depths, and centralized training).
PAPER_FL = (45.2, 29.9, 24.2, 23.2, 23.1, 21.7)
PAPER_CENTRAL = (43.8, 23.4, 18.0, 16.1, 14.9, 14.6)


def trained_exits(run: Run, exits: int) -> int:
    """The deepest exit any participating client trains (a per-tier model trains fewer)."""
    devices = run.config.get("devices") or {}
    tiers = devices.get("tiers") or {}
    if run.centralized:
        return (run.config.get("client") or {}).get("depth") or exits
    if not tiers or devices.get("depth") == "full":
        return exits
    names = devices.get("participate") or list(tiers)
    return max((tiers[name].get("max_depth") or exits) for name in names)


def final_record(run: Run) -> dict[str, Any]:
    return next(r for r in reversed(run.records) if "heldout_wer_per_exit" in r)


def wer_cells(run: Run, split: str) -> list[str]:
    values = final_record(run).get(f"{split}_wer_per_exit") or []
    deepest = trained_exits(run, len(values))
    return [f"{100 * v:.1f}" if i < deepest else f"({100 * v:.0f})" for i, v in enumerate(values)]


def exit_table(runs: list[Run]) -> str:
    exits = max(len(final_record(run).get("test_wer_per_exit") or []) for run in runs)
    head = ["run", "rounds"] + [f"{s} exit {e}" for s in SPLITS for e in range(1, exits + 1)]
    head += ["sim. hours", "client TFLOP", "GB moved"]
    rows = []
    for run in runs:
        last = run.records[-1]
        step = last.get("round", last.get("epoch"))
        unit = "" if not run.centralized else " ep."
        cells = [run.label, f"{step}{unit}"]
        for split in SPLITS:
            cells += wer_cells(run, split)
        sim = metric_value(last, "sim_time_s")
        flops = metric_value(last, "cumulative.flops")
        moved = metric_value(last, "cumulative.bytes_total")
        cells += [
            f"{sim / 3600:.2f}" if sim is not None else "—",
            f"{flops / 1e12:.1f}" if flops is not None else "—",
            f"{moved / 1e9:.2f}" if moved is not None else "—",
        ]
        rows.append(cells)
    return markdown(head, rows)


def tier_table(runs: list[Run]) -> str:
    head = ["run", "tier", "exit", "participations", "MB down", "MB up", "GFLOP", "sim. s"]
    head.append("CPU wall s")
    head[4:] = [f"{h} / participation" for h in head[4:]]
    rows = []
    for run in runs:
        tiers = (run.config.get("devices") or {}).get("tiers") or {}
        totals = (run.records[-1].get("devices") or {}).get("tiers_cumulative") or {}
        for name, row in totals.items():
            n, profile = max(row["clients"], 1), tiers[name]
            sim = (
                row["flops"] / profile["flops_per_s"]
                + row["bytes_down"] / profile["downlink_bytes_per_s"]
                + row["bytes_up"] / profile["uplink_bytes_per_s"]
            )
            depth = (run.config.get("devices") or {}).get("depth")
            exit_ = "all" if depth == "full" else profile.get("max_depth") or "all"
            rows.append([
                run.label, name, str(exit_), str(row["clients"]),
                f"{row['bytes_down'] / n / 1e6:.2f}", f"{row['bytes_up'] / n / 1e6:.2f}",
                f"{row['flops'] / n / 1e9:.1f}", f"{sim / n:.1f}", f"{row['wall_s'] / n:.2f}",
            ])  # fmt: skip
    return markdown(head, rows)


def target_table(runs: list[Run], target: float) -> str:
    head = ["run", f"held-out WER ≤ {100 * target:.0f}% at round", "sim. hours", "GB moved"]
    head.append("best held-out WER")
    rows = []
    for run in runs:
        hit = reach_record(run.records, "heldout_wer", target)
        best = min(v for r in run.records if (v := metric_value(r, "heldout_wer")) is not None)
        if hit is None:
            rows.append([run.label, "not reached", "—", "—", f"{100 * best:.1f}"])
            continue
        sim = metric_value(hit, "sim_time_s")
        moved = metric_value(hit, "cumulative.bytes_total")
        rows.append([
            run.label, str(hit.get("round", hit.get("epoch"))),
            f"{sim / 3600:.2f}" if sim is not None else "—",
            f"{moved / 1e9:.2f}" if moved is not None else "—", f"{100 * best:.1f}",
        ])  # fmt: skip
    return markdown(head, rows)


def shape_row(label: str, wer: list[float], central: list[float] | None) -> list[str]:
    """First exit, last exit, first / last, and WER / centralized WER at the first and last."""
    cells = [label, str(len(wer)), f"{wer[0]:.1f}", f"{wer[-1]:.1f}", f"{wer[0] / wer[-1]:.2f}"]
    if central is None:
        return [*cells, "—", "—"]
    return [*cells, f"{wer[0] / central[0]:.2f}", f"{wer[-1] / central[len(wer) - 1]:.2f}"]


def shape_table(runs: list[Run]) -> str:
    """The shape of the per-exit curve: how much deeper exits gain, how far FL is from central.

    Only the exits a run trains count (a one-tier model's deeper exits are untrained heads)."""
    head = ["model", "split", "trained exits", "first exit", "last exit", "first / last"]
    head += ["÷ centralized, first exit", "÷ centralized, last exit"]
    rows = [
        shape_row("paper: FL, FedAdam, mixed depths", list(PAPER_FL), list(PAPER_CENTRAL)),
        shape_row("paper: centralized", list(PAPER_CENTRAL), None),
    ]
    for row in rows:
        row.insert(1, "TED-LIUM 3")
    central = next((run for run in runs if run.centralized), None)
    for split in SPLITS:
        reference = None
        if central is not None:
            values = final_record(central).get(f"{split}_wer_per_exit")
            reference = [100 * v for v in values] if values else None
        for run in runs:
            values = [100 * v for v in final_record(run).get(f"{split}_wer_per_exit") or []]
            wer = values[: trained_exits(run, len(values))]
            if not wer:
                continue
            row = shape_row(run.label, wer, None if run.centralized else reference)
            row.insert(1, split)
            rows.append(row)
    return markdown(head, rows)


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--target", type=float, default=0.6, help="held-out WER, e.g. 0.6")
    args = parser.parse_args()
    missing = [path for path in args.runs if not (path / "model.safetensors").is_file()]
    runs = [load_run(path) for path in args.runs if path not in missing]
    if not runs:
        raise SystemExit(
            "no finished run (model.safetensors) among the given directories: nothing to "
            "tabulate (scripts/early_exit_experiments.sh runs them)"
        )
    federated = [run for run in runs if not run.centralized]
    print("## WER per exit (%), final evaluation\n\n" + exit_table(runs) + "\n")
    print("## Per device tier\n\n" + tier_table([r for r in federated if r.config.get("devices")]))
    print(f"\n## Time to target\n\n{target_table(federated, args.target)}")
    print(f"\n## Shape of the per-exit curve\n\n{shape_table(runs)}")
    if missing:
        names = ", ".join(path.name for path in missing)
        print(f"\nNot finished, left out: {names} (scripts/early_exit_experiments.sh runs them).")


if __name__ == "__main__":
    main()
