"""The tables and plots of docs/results/trust.md from the runs of scripts/trust_grid.py.

    python -m benchmarks.trust_tables --out runs/trust [--plots DIR] [--doc FILE]

Reads OUT/runs/*/metrics.jsonl (the last evaluation of each run), OUT/timings.jsonl and
OUT/bench_secagg.json; writes OUT/tables.md and the plots (default OUT/plots). With --doc,
they also replace what FILE holds between its markers (benchmarks/doc_splice.py), so
docs/results/trust.md carries the generated tables, never hand-copied figures. Runs that are
missing are shown as such, never filled in. WER is the held-out speakers' WER (72 utterances,
376 words; one word is 0.27 points) unless a table says otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.doc_splice import splice
from benchmarks.trust_grid import ATTACKS, COHORT, DEFENCES, NOISE, RATES, ROUNDS

Runs = dict[str, dict[str, Any]]
CONDITIONS = ["clean", *(f"{a}{round(r * 100)}" for a in ATTACKS for r in RATES)]


def load_runs(out: Path) -> Runs:
    runs: Runs = {}
    for metrics in sorted((out / "runs").glob("*/metrics.jsonl")):
        if not (metrics.parent / "model.safetensors").is_file():
            continue  # unfinished
        records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        evaluated = [r for r in records if "heldout_wer" in r]
        if not evaluated:
            continue
        runs[metrics.parent.name] = {"last": evaluated[-1], "records": records}
    return runs


def wer(runs: Runs, name: str, key: str = "heldout_wer") -> float | None:
    found = runs.get(name)
    return None if found is None else 100 * float(found["last"][key])


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """median (min–max), and the count when not every seed finished."""
    if not values:
        return "not run"
    text = fmt.format(statistics.median(values))
    if len(values) > 1:
        text += f" ({fmt.format(min(values))}–{fmt.format(max(values))})"
    return text


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seeds_of(runs: Runs) -> list[int]:
    return sorted({int(name.rsplit("-s", 1)[1]) for name in runs if "-s" in name})


def attack_tables(runs: Runs, seeds: list[int]) -> str:
    out = ["## Attacks and defences", ""]
    conditions = [c for c in CONDITIONS if any(f"-{c}-s" in name for name in runs)]
    missing = [c for c in CONDITIONS if c not in conditions]
    header = ["defence", *conditions]
    rows, rel_rows, per_seed = [], [], []
    for defence in DEFENCES:
        cells, rel = [defence], [defence]
        for condition in conditions:
            values, ratios = [], []
            for seed in seeds:
                value = wer(runs, f"{defence}-{condition}-s{seed}")
                clean = wer(runs, f"fedavg-clean-s{seed}")
                if value is None:
                    continue
                values.append(value)
                if clean:
                    ratios.append(100 * (value / clean - 1))
            cells.append(
                spread(values) + (f" [n={len(values)}]" if len(values) < len(seeds) else "")
            )
            mark = " ✓" if ratios and statistics.median(ratios) <= 10 else ""
            rel.append(spread(ratios, "{:+.0f}%") + mark)
            per_seed.append(
                [f"{defence}-{condition}", *(_seed_cells(runs, defence, condition, seeds))]
            )
        rows.append(cells)
        rel_rows.append(rel)
    out += ["Held-out WER % after the attacked rounds, median (min–max) over seeds:", ""]
    out += [table(header, rows), ""]
    out += ["Relative to clean FedAvg of the same seed (WER / clean − 1), median (min–max); "
            "✓: median within +10 %:", ""]  # fmt: skip
    out += [table(header, rel_rows), ""]
    out += ["Per seed, held-out WER % (test WER of the private speakers in the raw metrics):", ""]
    out += [table(["arm", *(f"seed {s}" for s in seeds)], per_seed), ""]
    if missing:
        out += [f"Not run for any defence (time budget): {', '.join(missing)}.", ""]
    out += [treatment_table(runs), ""]
    return "\n".join(out)


def _seed_cells(runs: Runs, defence: str, condition: str, seeds: list[int]) -> list[str]:
    return [_fmt(wer(runs, f"{defence}-{condition}-s{seed}")) for seed in seeds]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def treatment_table(runs: Runs) -> str:
    """How each robust defence treated attackers and honest clients: the mean share of a
    client's weighted contribution that reached the aggregate, over all rounds and seeds."""
    rows = []
    for defence in ("median", "trimmed_mean", "krum", "multi_krum", "norm_clip"):
        for attack in ATTACKS:
            bad: list[float] = []
            good: list[float] = []
            for name, run in runs.items():
                if not name.startswith(f"{defence}-{attack}"):
                    continue
                for record in run["records"]:
                    _collect(record.get("server_trust") or {}, record, bad, good)
            if bad:
                rows.append([defence, attack, f"{statistics.mean(bad):.2f}",
                             f"{statistics.mean(good):.2f}" if good else "—",
                             str(len(bad)), str(len(good))])  # fmt: skip
    return (
        "Share of each client's contribution that reached the aggregate (1 = kept whole):\n\n"
        + table(
            ["defence", "attack", "attackers", "honest", "attacker updates", "honest updates"], rows
        )
    )


def _collect(trust: dict, record: dict, bad: list[float], good: list[float]) -> None:
    robust = trust.get("robust")
    if robust is None:
        return
    attacked = set(trust.get("attacked", {}))
    factors = dict(robust.get("down_weighted", {}))
    factors.update(dict.fromkeys(robust.get("rejected", []), 0.0))
    aggregated = record["clients"]["aggregated"]
    honest_seen = aggregated - len(attacked)
    for client in attacked:
        bad.append(factors.get(client, 1.0))
    honest = [f for c, f in factors.items() if c not in attacked]
    good.extend(honest + [1.0] * max(honest_seen - len(honest), 0))


def dp_tables(runs: Runs, seeds: list[int]) -> tuple[str, list[tuple[float, float, list[float]]]]:
    out = ["## DP-FedAvg", ""]
    rows, points = [], []
    clean = [v for s in seeds if (v := wer(runs, f"fedavg-clean-s{s}")) is not None]
    rows.append(["FedAvg (no clipping, no noise)", "—", "∞", "—", "—", spread(clean)])
    for z in NOISE:
        names = [f"dp-z{z:g}-s{s}" for s in seeds]
        found = [runs[n] for n in names if n in runs]
        values = [v for n in names if (v := wer(runs, n)) is not None]
        if not found:
            rows.append([f"DP z = {z:g}", f"{z:g}", "not run", "—", "—", "not run"])
            continue
        dp = found[0]["records"][-1]["server_trust"]["dp"]
        clips = [r["records"][-1]["server_trust"]["dp"]["next_clip_norm"] for r in found]
        eps = math.inf if dp["epsilon"] is None else float(dp["epsilon"])
        label = f"DP z = {z:g}" + (" (clipping only)" if z == 0 else "")
        delta = f"{dp['delta']:.3g}"
        rows.append([label, f"{z:g}", _eps(eps), delta, spread(clips, "{:.2f}"), spread(values)])
        points.append((z, eps, values))
    out += [
        f"Central DP, {COHORT} of 20 clients a round (fixed size), {ROUNDS} rounds, adaptive "
        "clipping towards the median norm; (ε, δ) from the RDP accountant (dp-accounting), "
        "replace-one adjacency. Held-out WER % median (min–max):",
        "",
        table(["arm", "z", "ε", "δ", "final clip bound", "held-out WER %"], rows),
        "",
        population_table(),
    ]
    return "\n".join(out), points


def _eps(value: float | None) -> str:
    if value is None or math.isinf(value):  # a run's record writes an infinite ε as null
        return "∞"
    return f"{value:.3g}" if value < 1e4 else f"{value:.2e}"


def population_table(target: float = 10.0) -> str:
    """At each noise level's per-coordinate noise on the mean (z C / m), the cohort m' and
    population N that give ε <= target: the cohort grows by k, z with it (so z C / m stays),
    and N is the smallest population (δ = N^-1.1) reaching the target, found by bisection
    with the same accountant."""
    rows = []
    for z in [n for n in NOISE if n > 0]:
        for z_big in (1.0, 2.0):
            cohort = round(COHORT * z_big / z)
            for rounds in (ROUNDS, 1000):
                n = smallest_population(z_big, cohort, rounds, target)
                rows.append([f"{z:g}", f"{z_big:g}", f"{cohort:,}", str(rounds),
                             "beyond 10^12" if n is None else f"{n:,}"])  # fmt: skip
    return (
        f"Cohort and population that give ε ≤ {target:g} at the same noise on the mean "
        f"(z·C/m as in the runs, m = {COHORT}): cohort m' = m·z'/z at noise multiplier z', "
        "fixed-size sampling, δ = N^-1.1, RDP accountant:\n\n"
        + table(["run z", "z'", "cohort m'", "rounds", "smallest population N"], rows)
    )


def smallest_population(
    noise: float, cohort: int, rounds: int, target: float, limit: int = 10**12
) -> int | None:
    from fedasr.trust.accountant import Cohort, default_delta, epsilon

    def eps_of(population: int) -> float:
        sample = Cohort(population, cohort, "fixed_size")
        return epsilon(noise, rounds, sample, default_delta(population))

    if eps_of(limit) > target:
        return None
    low, high = cohort, limit  # eps_of(low) may pass the target, eps_of(high) does not
    while high > 1.01 * low and high - low > 1:  # to 1 %, on a log scale
        mid = round(math.sqrt(low * high))
        low, high = (low, mid) if eps_of(mid) <= target else (mid, high)
    return high


SECAGG_ARMS = ("fedavg-clean", "secagg", "fedavg-drop30", "secagg-drop30", "secagg-dp-z0.01",
               "dp-z0.01")  # fmt: skip


def secagg_tables(runs: Runs, out: Path, seeds: list[int]) -> str:
    """The SecAgg runs of every seed (seed 0's rows always, "not run" where missing; other
    seeds' rows where their SecAgg run exists), the weight gaps, the benchmark."""
    lines = ["## Secure aggregation", ""]
    shown = [0, *(s for s in seeds if s != 0 and f"secagg-s{s}" in runs)]
    rows = []
    for name in (f"{arm}-s{seed}" for seed in shown for arm in SECAGG_ARMS):
        run = runs.get(name)
        if run is None:
            rows.append([name, "not run", "", "", "", "", "", ""])
            continue
        rows.append([name, *_secagg_cells(run), _fmt(wer(runs, name))])
    which = ("seeds " if len(shown) > 1 else "seed ") + ", ".join(map(str, shown))
    lines += [f"In a run ({which}, 10 clients a round, serial executor): round wall time without "
              "the evaluating rounds, median (min–max); SecAgg's per-client upload and its "
              "ratio to a float32 upload; simulated per-client and server protocol seconds "
              "per round; clients dropped after sharing keys (all rounds); rounds SecAgg "
              "aborted (too few share holders left: no update that round):", ""]  # fmt: skip
    header = ["run", "round s", "up / client", "client s", "server s", "dropped", "aborted rounds",
              "held-out WER %"]  # fmt: skip
    lines += [table(header, rows), ""]
    lines += [
        "Final weights, SecAgg against plain aggregation of the same clients (SecAgg sums "
        "in fixed point, so equal up to its quantisation step, not bit for bit):",
        "",
    ]
    against = (("secagg", "fedavg-clean"), ("secagg-drop30", "fedavg-drop30"))
    pairs = [(f"{a}-s{seed}", f"{b}-s{seed}") for seed in shown for a, b in against]
    lines += [table(["SecAgg run", "plain run", "max abs Δw", "L2 of Δw / L2 of w"],
                    [[a, b, *weights_gap(out, a, b)] for a, b in pairs]), ""]  # fmt: skip
    bench = out / "bench_secagg.json"
    if bench.is_file():
        from benchmarks.bench_secagg import table as bench_table

        data = json.loads(bench.read_text())
        lines += [f"benchmarks/bench_secagg.py at D = {data['update_size']:,} "
                  f"(machine: {data['machine']}):", "", bench_table(data["rows"])]  # fmt: skip
    else:
        lines += ["benchmarks/bench_secagg.py: not run"]
    return "\n".join(lines)


def weights_gap(out: Path, first: str, second: str) -> list[str]:
    """max |w1 - w2| over every weight of two runs' exported models, and ‖w1 - w2‖ / ‖w2‖."""
    paths = [out / "runs" / name / "model.safetensors" for name in (first, second)]
    if not all(path.is_file() for path in paths):
        return ["not run", "not run"]
    from safetensors.torch import load_file

    a, b = (load_file(str(path)) for path in paths)
    worst, diff, norm = 0.0, 0.0, 0.0
    for key, tensor in b.items():
        gap = (a[key].double() - tensor.double()).abs()
        worst = max(worst, float(gap.max())) if gap.numel() else worst
        diff += float((gap**2).sum())
        norm += float((tensor.double() ** 2).sum())
    return [f"{worst:.2e}", f"{math.sqrt(diff / norm):.2e}" if norm else "—"]


def _secagg_cells(run: dict[str, Any]) -> list[str]:
    records = [r for r in run["records"] if r.get("aggregated")]
    rounds_s = [r["wall_s"] for r in records if "heldout_wer" not in r]
    found = [(r.get("server_trust") or {}).get("secagg") for r in records]
    aborted = sum(1 for s in found if s and "aborted" in s)
    secagg = [s for s in found if s and "aborted" not in s]
    if not secagg:
        return [spread(rounds_s, "{:.1f}"), "—", "—", "—", "—", str(aborted) if found[0] else "—"]
    up = statistics.median(s["bytes_up_per_client"] for s in secagg)
    ratio = statistics.median(s["upload_vs_plain"] for s in secagg)
    return [
        spread(rounds_s, "{:.1f}"),
        f"{up / 1e6:.3f} MB ({ratio:.4f}×)",
        f"{statistics.median(s['client_s'] for s in secagg):.3f}",
        f"{statistics.median(s['server_s'] for s in secagg):.3f}",
        str(sum(s["dropped"] for s in secagg)),
        str(aborted),
    ]


def plots(runs: Runs, seeds: list[int], points: list, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(ATTACKS), figsize=(13, 4), sharey=True)
    for ax, attack in zip(axes, ATTACKS, strict=True):
        for defence in DEFENCES:
            xs, med, low, high = [], [], [], []
            for rate in (0.0, *RATES):
                cond = "clean" if rate == 0 else f"{attack}{round(rate * 100)}"
                values = [
                    v for s in seeds if (v := wer(runs, f"{defence}-{cond}-s{s}")) is not None
                ]
                if values:
                    xs.append(100 * rate)
                    med.append(statistics.median(values))
                    low.append(min(values))
                    high.append(max(values))
            if xs:
                (line,) = ax.plot(xs, med, marker="o", label=defence)
                ax.fill_between(xs, low, high, alpha=0.12, color=line.get_color())
        ax.set_title(attack)
        ax.set_xlabel("attackers, % of each round's clients")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out WER % (median, min–max)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target / "trust_attacks.png", dpi=110)
    plt.close(fig)
    if points:
        fig, ax = plt.subplots(figsize=(6, 4))
        for z, eps, values in points:
            if values and math.isfinite(eps):
                ax.errorbar([eps], [statistics.median(values)],
                            yerr=[[statistics.median(values) - min(values)],
                                  [max(values) - statistics.median(values)]],
                            marker="o", capsize=3, label=f"z = {z:g}")  # fmt: skip
        clean = [v for s in seeds if (v := wer(runs, f"fedavg-clean-s{s}")) is not None]
        if clean:
            ax.axhline(statistics.median(clean), color="gray", ls="--", label="FedAvg, no DP")
        ax.set_xscale("log")
        ax.set_xlabel("ε (δ = 20^-1.1), 6 rounds, 10 of 20 clients")
        ax.set_ylabel("held-out WER %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(target / "trust_dp.png", dpi=110)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/trust"))
    parser.add_argument("--plots", type=Path, default=None)
    parser.add_argument("--commit", default="")
    parser.add_argument("--doc", type=Path, help="a Markdown file to put the tables in")
    args = parser.parse_args()
    runs = load_runs(args.out)
    seeds = seeds_of(runs)
    dp_text, points = dp_tables(runs, seeds)
    text = "\n".join([
        f"# Trust results (commit {args.commit or 'see OUT/code-*'}; {len(runs)} finished runs, "
        f"seeds {seeds})", "",
        f"Pretrained model: {json.dumps(pretrain_wer(args.out))}", "",
        attack_tables(runs, seeds), dp_text, "", secagg_tables(runs, args.out, seeds), "",
    ])  # fmt: skip
    tmp = args.out / "tables.md.tmp"
    tmp.write_text(text)
    tmp.replace(args.out / "tables.md")
    plots(runs, seeds, points, args.plots or args.out / "plots")
    if args.doc is not None:
        splice(args.doc, text.split("\n", 2)[2])  # the doc has its own title
    print(text)


def pretrain_wer(out: Path) -> dict[str, float]:
    """The pretrained model's WER on the private speakers' test split and the held-out
    speakers (the starting point of every arm), computed once and kept."""
    cached = out / "pretrain_wer.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    model = out / "pretrain" / "model.safetensors"
    if not model.is_file():
        return {}
    from benchmarks.bench_adaptation import wer_of

    private = out / "corpus" / "private"
    result = {s: 100 * wer_of(model, private / f"{s}.jsonl") for s in ("test", "heldout")}
    cached.write_text(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
