"""Markdown tables and plots for docs/results/pruning.md, read from the grid's run directories.

    python scripts/pruning_tables.py OUT [--plots DIR]

OUT is the directory scripts/pruning_experiments.sh fills (runs named ARM-sSEED). Only finished
runs (a model.safetensors) count; arms and seeds that did not finish are listed as missing.
Nothing is estimated: WER is the final evaluation's, costs are the clients' reported bytes and
FLOPs averaged over the rounds after pruning starts, model sizes are the server's records.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedasr.report.metrics import Run, load_run

# (arm prefix, label); the 50 % arms differ from column-50 in one choice
ARMS = [
    ("dense", "dense FedAvg (0 %)"),
    ("column-25", "column, 25 %"),
    ("column-50", "column, 50 % (reference)"),
    ("column-75", "column, 75 %"),
    ("row-50", "row, 50 %"),
    ("half-50", "half column, 50 %"),
    ("step-50", "step schedule, 50 %"),
    ("adaptive-50", "adaptive, 50 %"),
    ("norefine-50", "no refining, 50 %"),
    ("taylor-50", "client Taylor score, 50 %"),
    ("central-50", "centralized pruning, 50 % (10 central epochs)"),
    ("central-equal-50", "centralized pruning, 50 % (2 central epochs)"),
]
COMPARISONS = [  # (question, arm A, arm B): paired by seed, B - A
    ("row vs column", "column-50", "row-50"),
    ("half vs column", "column-50", "half-50"),
    ("step vs constant", "column-50", "step-50"),
    ("adaptive vs uniform", "column-50", "adaptive-50"),
    ("no refining vs refining", "column-50", "norefine-50"),
    ("client Taylor vs magnitude", "column-50", "taylor-50"),
    ("centralized vs magnitude (FL)", "column-50", "central-50"),
    ("centralized vs client Taylor", "taylor-50", "central-50"),
    ("centralized, equal examples vs magnitude (FL)", "column-50", "central-equal-50"),
    ("centralized, equal examples vs client Taylor", "taylor-50", "central-equal-50"),
]
SPLITS = ("heldout", "test")


@dataclass
class Arm:
    prefix: str
    label: str
    runs: dict[int, Run]  # by seed
    missing: list[str]


def finished(path: Path) -> bool:
    return (path / "model.safetensors").is_file()


def load_arms(out: Path, seeds: list[int]) -> list[Arm]:
    arms = []
    for prefix, label in ARMS:
        runs, missing = {}, []
        for seed in seeds:
            path = out / f"{prefix}-s{seed}"
            if finished(path):
                runs[seed] = load_run(path)
            else:
                missing.append(path.name)
        arms.append(Arm(prefix, label, runs, missing))
    return arms


def final_eval(run: Run) -> dict[str, Any]:
    return next(r for r in reversed(run.records) if "heldout_wer" in r)


def wer(run: Run, split: str) -> float:
    return 100 * float(final_eval(run)[f"{split}_wer"])


def pruned_records(run: Run) -> list[dict[str, Any]]:
    """Rounds whose clients trained the pruned model (all rounds of a dense run)."""
    records = [r for r in run.records if "round" in r]
    pruned = [
        r for r in records if (r.get("server_pruning") or {}).get("phase", "dense") != "dense"
    ]
    return pruned or records


def per_client(run: Run, key: str) -> float:
    records = pruned_records(run)
    total = sum(r["cost"][key] for r in records)
    clients = sum(r["clients"]["succeeded"] for r in records)
    return total / max(clients, 1)


def model_sizes(run: Run) -> tuple[int, int]:
    """(client model parameters, coordinates it holds) in the last round."""
    last = [r for r in run.records if "round" in r][-1]
    pruned = (last.get("server_pruning") or {}).get("pruned")
    if pruned is None:  # a dense run
        return -1, -1
    return int(pruned["client_params"]), int(pruned["held_params"])


def full_params(arms: list[Arm]) -> int | None:
    """The dense model's size: what a pruning run's clients held in a dense round."""
    for arm in arms:
        for run in arm.runs.values():
            for record in run.records:
                pruning = record.get("server_pruning") or {}
                if pruning.get("phase") == "dense":
                    return int(pruning["pruned"]["client_params"])
    return None


def fmt(values: list[float]) -> tuple[str, str]:
    if not values:
        return "—", "—"
    median = f"{statistics.median(values):.1f}"
    if len(values) < 2:
        return median, f"{values[0]:.1f}"
    return median, f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def wer_table(arms: list[Arm], seeds: list[int]) -> str:
    head = ["arm", *[f"held-out s{s}" for s in seeds], "held-out median", "mean ± sd"]
    head += ["test median", "test mean ± sd"]
    rows = []
    for arm in arms:
        if not arm.runs:
            continue
        cells = [arm.label]
        cells += [f"{wer(arm.runs[s], 'heldout'):.1f}" if s in arm.runs else "—" for s in seeds]
        for split in SPLITS:
            cells += fmt([wer(run, split) for run in arm.runs.values()])
        rows.append(cells)
    return table(head, rows)


def cost_table(arms: list[Arm], dense_params: int | None) -> str:
    head = ["arm", "client model params", "held (sent) params", "MB down / client-round"]
    head += ["MB up / client-round", "GFLOP / client-round", "MB moved / round"]
    rows = []
    for arm in arms:
        if not arm.runs:
            continue
        run = arm.runs[min(arm.runs)]
        params, held = model_sizes(run)
        if params < 0:
            params = held = dense_params or -1
        records = pruned_records(run)
        moved = sum(r["cost"]["bytes_down"] + r["cost"]["bytes_up"] for r in records)
        down, up = per_client(run, "bytes_down"), per_client(run, "bytes_up")
        rows.append([
            arm.label, f"{params:,}", f"{held:,}", f"{down / 1e6:.2f}", f"{up / 1e6:.2f}",
            f"{per_client(run, 'flops') / 1e9:.1f}", f"{moved / len(records) / 1e6:.1f}",
        ])  # fmt: skip
    return table(head, rows)


def comparison_table(arms: list[Arm], split: str) -> str:
    by_prefix = {arm.prefix: arm for arm in arms}
    head = ["comparison", "seeds", "per-seed difference (points)", "median difference"]
    rows = []
    for question, first, second in COMPARISONS:
        a, b = by_prefix[first].runs, by_prefix[second].runs
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        diffs = [wer(b[s], split) - wer(a[s], split) for s in seeds]
        shown = ", ".join(f"{d:+.1f}" for d in diffs)
        rows.append([question, str(len(seeds)), shown, f"{statistics.median(diffs):+.1f}"])
    return table(head, rows)


def refining_table(arms: list[Arm]) -> str:
    head = ["arm", "seed", "mask groups revived by refining (sum over refining rounds)"]
    rows = []
    for arm in arms:
        for seed, run in sorted(arm.runs.items()):
            records = [r.get("server_pruning") or {} for r in run.records if "round" in r]
            if not records or not any(r.get("phase") == "refine" for r in records):
                continue
            revived = sum(int(r.get("revived", 0)) for r in records)  # only refining revives
            rows.append([arm.label, str(seed), str(revived)])
    return table(head, rows)


def central_table(out: Path, seeds: list[int]) -> str:
    head = ["model", "seed", "central model held-out", "central model test", "epochs"]
    rows = []
    for name in ("central", "central-equal"):
        for seed in seeds:
            path = out / f"{name}-s{seed}"
            if not finished(path):
                continue
            last = final_eval(load_run(path))
            rows.append([
                name, str(seed), f"{100 * last['heldout_wer']:.1f}",
                f"{100 * last['test_wer']:.1f}", str(last.get("epoch")),
            ])  # fmt: skip
    return table(head, rows)


def tiers_table(out: Path) -> str:
    path = out / "tiers-s0"
    if not finished(path):
        return "(tiers-s0 did not finish)"
    run = load_run(path)
    last = [r for r in run.records if "round" in r][-1]
    totals = last["devices"]["tiers_cumulative"]
    pruning = last.get("server_pruning") or {}
    head = ["tier", "participations", "client model params (last round)", "MB down / part."]
    head += ["MB up / part.", "GFLOP / part."]
    rows = []
    for tier, row in totals.items():
        n = max(row["succeeded"], 1)
        mask = pruning.get(f"pruned.{tier}") or pruning.get("pruned") or {}
        rows.append([
            tier, str(int(row["succeeded"])), f"{mask.get('client_params', 0):,}",
            f"{row['bytes_down'] / n / 1e6:.2f}", f"{row['bytes_up'] / n / 1e6:.2f}",
            f"{row['flops'] / n / 1e9:.1f}",
        ])  # fmt: skip
    exits = final_eval(run).get("heldout_wer_per_exit") or []
    test_exits = final_eval(run).get("test_wer_per_exit") or []
    per_exit = ", ".join(f"{100 * v:.1f}" for v in exits)
    per_exit_test = ", ".join(f"{100 * v:.1f}" for v in test_exits)
    return (
        table(head, rows)
        + f"\n\nGlobal model WER per exit: held-out {per_exit}; test {per_exit_test}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--plots", type=Path, default=None)
    args = parser.parse_args()
    arms = load_arms(args.out, args.seeds)
    dense_params = full_params(arms)
    commit = (args.out / "commit").read_text().strip() if (args.out / "commit").is_file() else "?"
    print(f"Runs in `{args.out}` (grid commit `{commit[:12]}`).\n")
    print("### Final WER (%), per seed and over seeds\n")
    print(wer_table(arms, args.seeds))
    print("\n### Paired differences, held-out WER (points; B − A per seed, negative = B better)\n")
    print(comparison_table(arms, "heldout"))
    print("\n### Paired differences, test WER (points)\n")
    print(comparison_table(arms, "test"))
    print("\n### Client model, bytes and compute\n")
    print("(the lowest seed of each arm; per client and round, rounds after pruning starts)\n")
    print(cost_table(arms, dense_params))
    print("\n### Refining\n")
    print(refining_table(arms))
    print("\n### Centralized model before pruning\n")
    print(central_table(args.out, args.seeds))
    print("\n### Per-device sparsity with early exits (tiers-s0)\n")
    print(tiers_table(args.out))
    missing = [name for arm in arms for name in arm.missing]
    print(f"\nNot finished: {', '.join(missing) if missing else 'none'}.")
    if args.plots is not None:
        from pruning_plots import write_plots  # scripts/pruning_plots.py

        write_plots(arms, args.plots)


if __name__ == "__main__":
    main()
