"""Tables and plots of docs/results/fedkad.md from the run directories of
scripts/fedkad_experiments.sh (runs named ARM-MIX-sSEED).

    python scripts/fedkad_tables.py --out docs/results/fedkad runs/fedkad > tables.md

Every figure is a mean over the seeds that finished (the number of seeds is printed); the
spread is the sample standard deviation. WER is each tier's own model at its last exit: for
FedAvg with one model, every tier's clients use that model; for HeteroFL the S and M tiers use
their width slices and L the whole model.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

TIERS = ("S", "M", "L")
ARMS = {  # arm -> (label, metric prefix per tier)
    "fedkad": ("FedKAD (forced alignment)", {t: f"{t}_" for t in TIERS}),
    "fedkadbp": ("FedKAD (best-path alignment)", {t: f"{t}_" for t in TIERS}),
    "fedkadlam0.1": ("FedKAD, lambda 0.1", {t: f"{t}_" for t in TIERS}),
    "fedkadlam1": ("FedKAD, lambda 1", {t: f"{t}_" for t in TIERS}),
    "fedmd": ("FedMD", {t: f"{t}_" for t in TIERS}),
    "fedmdtl": ("FedMD + transfer learning", {t: f"{t}_" for t in TIERS}),
    "heterofl": ("HeteroFL", {"S": "S_", "M": "M_", "L": ""}),
    "tiers": ("each tier alone", {t: f"{t}_" for t in TIERS}),
    "fedavgS": ("FedAvg, all S model", dict.fromkeys(TIERS, "")),
    "fedavgL": ("FedAvg, all L model", dict.fromkeys(TIERS, "")),
}
NAME = re.compile(r"^(?P<arm>[A-Za-z][A-Za-z0-9.]*)-(?P<mix>uniform|skewed)-s(?P<seed>\d+)$")


@dataclass
class Run:
    arm: str
    mix: str
    seed: int
    records: list[dict[str, Any]]

    @property
    def final(self) -> dict[str, Any]:
        return self.records[-1]

    def wer(self, tier: str, split: str, record: dict[str, Any] | None = None) -> float | None:
        prefix = ARMS[self.arm][1][tier]
        value = (record or self.final).get(f"{prefix}{split}_wer")
        return None if value is None else 100 * float(value)

    def tier_cost(self, tier: str, key: str) -> float:
        totals = self.final.get("devices", {}).get("tiers_cumulative", {}).get(tier, {})
        return float(totals.get(key, 0.0))


@dataclass
class Group:
    runs: list[Run] = field(default_factory=list)

    def values(self, get: Any) -> list[float]:
        return [v for run in self.runs if (v := get(run)) is not None]


def load(out: Path) -> dict[tuple[str, str], Group]:
    groups: dict[tuple[str, str], Group] = defaultdict(Group)
    for directory in sorted(p for p in out.iterdir() if p.is_dir()):
        match = NAME.match(directory.name)
        finished = any(directory.glob("model*.safetensors"))
        if match is None or match["arm"] not in ARMS or not finished:
            continue
        lines = (directory / "metrics.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        run = Run(match["arm"], match["mix"], int(match["seed"]), records)
        groups[(run.arm, run.mix)].runs.append(run)
    return groups


def fmt(values: list[float], digits: int = 1) -> str:
    if not values:
        return "—"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def comparison(groups: dict[tuple[str, str], Group], mix: str) -> list[str]:
    head = ["method", "seeds"]
    head += [f"{t} {s} WER" for s in ("test", "held-out") for t in TIERS]
    head += ["MB up", "MB down", "client TFLOP", "sim. hours"]
    lines = [_row(head), _row(["---"] * len(head))]
    for arm in ARMS:
        group = groups.get((arm, mix))
        if group is None:
            continue
        cells = [ARMS[arm][0], str(len(group.runs))]
        for split in ("test", "heldout"):
            cells += [fmt(group.values(lambda r, t=t, s=split: r.wer(t, s))) for t in TIERS]
        cum = [("bytes_up", 1e-6), ("bytes_down", 1e-6), ("flops", 1e-12)]
        for key, scale in cum:
            cells.append(fmt(group.values(lambda r, k=key, c=scale: r.final["cumulative"][k] * c)))
        cells.append(fmt(group.values(lambda r: _sim_hours(r.final)), 2))
        lines.append(_row(cells))
    return lines


def per_tier(groups: dict[tuple[str, str], Group], mix: str) -> list[str]:
    unit = "/ participation"
    head = ["method", "tier", "participations", f"KB up {unit}", f"KB down {unit}",
            f"GFLOP {unit}", "slowest client of the tier, sim. s per round"]  # fmt: skip
    lines = [_row(head), _row(["---"] * len(head))]
    for arm in ARMS:
        group = groups.get((arm, mix))
        if group is None:
            continue
        for tier in TIERS:

            def per(run: Run, key: str, scale: float, tier: str = tier) -> float | None:
                n = run.tier_cost(tier, "succeeded")
                return run.tier_cost(tier, key) * scale / n if n else None

            cells = [ARMS[arm][0], tier,
                     fmt(group.values(lambda r, t=tier: r.tier_cost(t, "clients")), 0),
                     fmt(group.values(lambda r: per(r, "bytes_up", 1e-3)), 0),
                     fmt(group.values(lambda r: per(r, "bytes_down", 1e-3)), 0),
                     fmt(group.values(lambda r: per(r, "flops", 1e-9)), 1),
                     fmt(group.values(lambda r, t=tier: _tier_seconds(r, t)), 1)]  # fmt: skip
            lines.append(_row(cells))
    return lines


def paired(groups: dict[tuple[str, str], Group], mix: str, arm: str, other: str) -> list[str]:
    """`arm` against `other` seed by seed: WER differences per tier and split (points;
    negative: `arm` better) and the ratio of total bytes (up + down)."""
    mine, theirs = groups.get((arm, mix)), groups.get((other, mix))
    if mine is None or theirs is None:
        return []
    by_seed = {run.seed: run for run in theirs.runs}
    pairs = [(run, by_seed[run.seed]) for run in mine.runs if run.seed in by_seed]
    cells = [f"{ARMS[arm][0]} vs {ARMS[other][0]}", str(len(pairs))]
    for split in ("test", "heldout"):
        for tier in TIERS:
            values = [(a.wer(tier, split), b.wer(tier, split)) for a, b in pairs]
            cells.append(fmt([x - y for x, y in values if x is not None and y is not None]))
    ratios = [a.final["cumulative"]["bytes_total"] / b.final["cumulative"]["bytes_total"]
              for a, b in pairs]  # fmt: skip
    cells.append(fmt(ratios, 2))
    return [_row(cells)]


def claim(groups: dict[tuple[str, str], Group], mix: str) -> list[str]:
    head = ["comparison", "seed pairs"]
    head += [f"{t} {s} WER diff." for s in ("test", "held-out") for t in TIERS]
    head += ["bytes ratio"]
    lines = [_row(head), _row(["---"] * len(head))]
    for other in ("fedavgL", "fedavgS", "fedmd", "fedmdtl", "tiers", "heterofl", "fedkadbp"):
        lines += paired(groups, mix, "fedkad", other)
    return lines


def to_target(groups: dict[tuple[str, str], Group], mix: str, targets: list[float]) -> list[str]:
    """Cumulative MB (up + down, the whole fleet) when a tier's held-out WER first reached
    each target, at the evaluated rounds; `k/n`: k of the n seeds reached it."""
    head = ["method"] + [f"{t} ≤ {target:g} %" for target in targets for t in TIERS]
    lines = [_row(head), _row(["---"] * len(head))]
    for arm in ARMS:
        group = groups.get((arm, mix))
        if group is None:
            continue
        cells = [ARMS[arm][0]]
        for target in targets:
            for tier in TIERS:
                reached = group.values(lambda r, t=tier, w=target: _mb_at(r, t, w))
                n = len(group.runs)
                cells.append(f"{fmt(reached, 0)} ({len(reached)}/{n})" if reached else f"— (0/{n})")
        lines.append(_row(cells))
    return lines


def _mb_at(run: Run, tier: str, target: float) -> float | None:
    for record in run.records:
        wer = run.wer(tier, "heldout", record)
        if wer is not None and wer <= target:
            return float(record["cumulative"]["bytes_total"]) / 1e6
    return None


def _sim_hours(record: dict[str, Any]) -> float | None:
    value = record.get("sim_time_s")
    return None if value is None else float(value) / 3600


def _tier_seconds(run: Run, tier: str) -> float | None:
    """Mean over rounds of the slowest client of the tier (simulated seconds)."""
    values = [r["sim_client_s"][tier] for r in run.records if tier in r.get("sim_client_s", {})]
    return statistics.fmean(values) if values else None


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def curves(group: Group, tier: str, x_key: str | None) -> tuple[list[float], list[float]]:
    """Mean held-out WER of `tier` at each evaluated round (x: round, or a cumulative cost)."""
    by_round: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for run in group.runs:
        for record in run.records:
            wer = run.wer(tier, "heldout", record)
            if wer is not None:
                x = record["round"] if x_key is None else record["cumulative"][x_key] / 1e6
                by_round[record["round"]].append((x, wer))
    rounds = sorted(by_round)
    xs = [statistics.fmean(x for x, _ in by_round[r]) for r in rounds]
    return xs, [statistics.fmean(w for _, w in by_round[r]) for r in rounds]


def plot(groups: dict[tuple[str, str], Group], mix: str, x_key: str | None, path: Path) -> None:
    fig = Figure(figsize=(16, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, tier in zip(axes, TIERS, strict=True):
        for index, arm in enumerate(ARMS):
            group = groups.get((arm, mix))
            if group is None:
                continue
            xs, ys = curves(group, tier, x_key)
            style = "--" if arm.startswith("fedavg") else "-"
            ax.plot(xs, ys, style, marker="o", ms=3, color=f"C{index}", label=ARMS[arm][0])
        ax.set_title(f"tier {tier}: held-out WER ({mix} mix, mean over seeds)", fontsize=10)
        ax.set_xlabel("round" if x_key is None else "cumulative MB (up + down)")
        ax.set_ylabel("held-out WER (%)")
        if x_key is not None:
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=90, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="the directory holding the runs")
    parser.add_argument("--out", type=Path, help="write the plots here")
    parser.add_argument("--targets", type=float, nargs="+", default=[80.0, 60.0],
                        help="held-out WERs (%%) for the bytes-to-target table")  # fmt: skip
    args = parser.parse_args()
    groups = load(args.runs)
    for mix in ("uniform", "skewed"):
        if not any(m == mix for _, m in groups):
            continue
        print(f"\n### {mix} mix: per-tier WER (%), cumulative cost of the run\n")
        print("\n".join(comparison(groups, mix)))
        print(f"\n### {mix} mix: cost per client participation, by tier\n")
        print("\n".join(per_tier(groups, mix)))
        print(f"\n### {mix} mix: FedKAD against each baseline, seed by seed\n")
        print("WER differences in points (negative: FedKAD better); bytes ratio: FedKAD's")
        print("total bytes (up + down) over the baseline's.\n")
        print("\n".join(claim(groups, mix)))
        print(f"\n### {mix} mix: MB (up + down) until a tier's held-out WER first reached\n")
        print("Evaluated every 5 rounds; (k/n): k of n seeds reached it; mean over those k.\n")
        print("\n".join(to_target(groups, mix, args.targets)))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            plot(groups, mix, None, args.out / f"{mix}_wer_vs_round.png")
            plot(groups, mix, "bytes_total", args.out / f"{mix}_wer_vs_mb.png")
    if not groups:
        print("no finished run under", args.runs)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
