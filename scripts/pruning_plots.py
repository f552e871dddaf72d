"""Plots for docs/results/pruning.md (used by scripts/pruning_tables.py --plots DIR)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# scripts/pruning_experiments.sh: dense FL rounds before pruning, the refining rounds
PRUNE_START, REFINE = 8, (15, 22)
SPARSITY_ARMS = [(0, "dense"), (25, "column-25"), (50, "column-50"), (75, "column-75")]
ROUND_ARMS = ["dense", "column-50", "row-50", "half-50", "step-50", "adaptive-50",
              "norefine-50", "taylor-50", "central-50", "central-equal-50"]  # fmt: skip


def write_plots(arms: Sequence[Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    by_prefix = {arm.prefix: arm for arm in arms}
    _wer_vs_sparsity(by_prefix, out / "wer_vs_sparsity.png")
    _wer_vs_round(by_prefix, out / "wer_vs_round.png")
    memory = out.parent / "memory.json"
    _cost_vs_sparsity(by_prefix, memory if memory.is_file() else None, out / "cost_vs_sparsity.png")


def _final(run: Any, split: str) -> float:
    record = next(r for r in reversed(run.records) if "heldout_wer" in r)
    return 100 * float(record[f"{split}_wer"])


def _wer_vs_sparsity(by_prefix: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=False)
    for ax, split in zip(axes, ("heldout", "test"), strict=True):
        xs, medians = [], []
        for sparsity, prefix in SPARSITY_ARMS:
            arm = by_prefix.get(prefix)
            if arm is None or not arm.runs:
                continue
            values = [_final(run, split) for run in arm.runs.values()]
            ax.scatter([sparsity] * len(values), values, color="tab:blue", alpha=0.4, s=14)
            xs.append(sparsity)
            medians.append(statistics.median(values))
        ax.plot(xs, medians, color="tab:blue", marker="o", label="median over seeds")
        ax.set_xlabel("sparsity (% of column weights pruned)")
        ax.set_ylabel(f"{split} WER (%)")
        ax.set_title(f"{split} WER vs sparsity (0 % = dense FedAvg)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _median_curve(runs: Sequence[Any]) -> tuple[list[int], list[float]]:
    curves: dict[int, list[float]] = {}
    for run in runs:
        # a centralized arm's round 0 is the FL arms' first pruning round
        offset = PRUNE_START if run.path.name.startswith("central") else 0
        for record in run.records:
            if "heldout_wer" in record and "round" in record:
                curves.setdefault(record["round"] + offset, []).append(100 * record["heldout_wer"])
    rounds = sorted(curves)
    return rounds, [statistics.median(curves[r]) for r in rounds]


def _wer_vs_round(by_prefix: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for prefix in ROUND_ARMS:
        arm = by_prefix.get(prefix)
        if arm is None or not arm.runs:
            continue
        rounds, values = _median_curve(list(arm.runs.values()))
        style = "--" if prefix == "dense" else "-"
        ax.plot(rounds, values, style, marker=".", label=arm.label)
    # phases are 0-based round ranges [start, end); records count rounds from 1
    ax.axvspan(
        PRUNE_START, REFINE[0], color="0.9", label=f"pruning (rounds {PRUNE_START + 1}-{REFINE[0]})"
    )
    ax.axvspan(*REFINE, color="0.95", label=f"refining (rounds {REFINE[0] + 1}-{REFINE[1]})")
    ax.set_xlabel(f"round (centralized pruning: FL round 1 placed at {PRUNE_START + 1})")
    ax.set_ylabel("held-out WER (%), median over seeds")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cost_vs_sparsity(by_prefix: dict[str, Any], memory: Path | None, path: Path) -> None:
    from pruning_tables import model_sizes, per_client  # scripts/pruning_tables.py

    xs, params, down, flops = [], [], [], []
    for sparsity, prefix in SPARSITY_ARMS:
        arm = by_prefix.get(prefix)
        if arm is None or not arm.runs:
            continue
        run = arm.runs[min(arm.runs)]
        size, _ = model_sizes(run)
        xs.append(sparsity)
        params.append(size)
        down.append(per_client(run, "bytes_down"))
        flops.append(per_client(run, "flops"))
    if not xs or xs[0] != 0:
        return
    params[0] = _full(by_prefix) or params[0]
    fig, ax = plt.subplots(figsize=(6, 4))
    curves = (
        ("client model parameters", params),
        ("bytes down per client-round", down),
        ("training FLOPs per client-round", flops),
    )
    for label, values in curves:
        ax.plot(xs, [v / values[0] for v in values], marker="o", label=label)
    if memory is not None:
        rows = json.loads(memory.read_text())["rows"]
        peak = {
            round(100 * r["sparsity"]): r["peak_bytes"] for r in rows if r["pattern"] == "column"
        }
        if 0 in peak:
            mx = sorted(peak)
            ax.plot(mx, [peak[m] / peak[0] for m in mx], marker="s", label="measured peak memory")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("relative to the dense model")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _full(by_prefix: dict[str, Any]) -> int | None:
    from pruning_tables import full_params

    return full_params(list(by_prefix.values()))
