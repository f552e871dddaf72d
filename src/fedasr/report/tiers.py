"""Per-tier WER curves: runs that train one model per device tier (FedKAD, FedMD, per-tier
FedAvg) or evaluate sub-models as views (HeteroFL's width slices) log each tier's metrics with
the tier's name as prefix (`S_heldout_wer`); this figure draws every tier of every run, one
colour per run and one line style per tier."""

from __future__ import annotations

import re
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedasr.report.metrics import Run, series

SPLITS = ("test", "heldout")
STYLES = ("-", "--", ":", "-.")
_TIER_KEY = re.compile(r"^(?P<tier>[A-Za-z0-9]+)_(?P<split>test|heldout)_wer$")


def tiers_of(run: Run) -> list[str]:
    """The tier prefixes a run logs WER for, in the order they first appear."""
    found: dict[str, None] = {}
    for record in run.records:
        for key in record:
            match = _TIER_KEY.match(key)
            if match and match["tier"] != "best":
                found.setdefault(match["tier"], None)
    return list(found)


def per_tier_wer(runs: Sequence[Run], metric: str) -> Figure | None:
    """Each tier's WER per round, one panel per split (None when no run has tiers)."""
    tiered = [(run, tiers) for run in runs if (tiers := tiers_of(run))]
    if not tiered:
        return None
    fig = Figure(figsize=(12.0, 4.5), layout="constrained")
    axes = fig.subplots(1, len(SPLITS), squeeze=False)[0]
    for ax, split in zip(axes, SPLITS, strict=True):
        for run, tiers in tiered:
            color = f"C{runs.index(run) % 10}"
            for index, tier in enumerate(tiers):
                points = series(run.records, f"{tier}_{split}_wer")
                if points:
                    ax.plot([p.step for p in points], [100 * p.value for p in points],
                            STYLES[index % len(STYLES)], marker="o", ms=3, color=color,
                            label=f"{run.label} {tier}")  # fmt: skip
        name = split.replace("heldout", "held-out")
        ax.set_title(f"{name} WER per tier (line style: tier)", fontsize=10)
        ax.set_xlabel("round")
        ax.set_ylabel(f"{name} WER (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig
