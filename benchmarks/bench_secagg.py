"""SecAgg's cost against plain aggregation: bytes and time per client and per round.

    python -m benchmarks.bench_secagg OUT.json [--repeats 3]    # under your machine's job queue

Each client's input is a tiny-preset update (1,077,751 float32 coordinates, docs/models.md)
pre-multiplied by its weight, plus the weight itself, in a 32-bit ring. Arms: 10 and 100
clients; SecAgg (every pair shares a mask) and SecAgg+ (a k-regular graph with
k = 4 ceil(log2 n), Bell et al. 2020's O(log n)), t just over half the share holders; no
dropout, and 30 % of the clients dropping after they shared keys, before their masked input
arrives (the costly case: their mask keys are rebuilt from shares and the survivors' pairwise
masks for them recomputed). Plain aggregation is each client uploading its float32 update and
the server summing them in float64. Times are medians over the repeats, on one core (the
simulation runs the clients one after another, so the per-client time is what one device
would spend).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from fedasr.trust.secagg import codec_for, plain_ring_sum, secure_sum

UPDATE_SIZE = 1_077_751  # the tiny preset's parameters
PHASES = ("advertise", "share_keys", "mask", "unmask")
THRESHOLD = 0.51  # t = ceil(0.51 x share holders): just over half


def client_inputs(n: int, size: int, seed: int) -> dict[int, dict[str, torch.Tensor | float]]:
    g = torch.Generator().manual_seed(seed)
    out: dict[int, dict[str, torch.Tensor | float]] = {}
    for client in range(n):
        weight = 0.25 + 0.75 * (client % 4) / 3
        delta = torch.randn(size, generator=g) * (0.5 / math.sqrt(size))  # norm 0.5
        out[client] = {"update": weight * delta, "weight": weight}
    return out


def plain_round(inputs: dict[int, dict[str, torch.Tensor | float]], size: int) -> tuple[int, float]:
    """(bytes a client uploads, server seconds to sum) for plain weighted aggregation."""
    started = time.perf_counter()
    total = torch.zeros(size, dtype=torch.float64)
    for values in inputs.values():
        total += values["update"].double()  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    return size * 4 + 4, seconds  # float32 update + float32 weight


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0]} x{len(names)}" if names else platform.machine()


def harary_degree(n: int) -> int:
    """k = 4 ceil(log2 n), even: with t just over half of k + 1, a client loses its shares'
    quorum only if more than half its neighbours drop (at 30 % dropout and n = 100, k = 28:
    a tail probability of ~0.3 % per client; Bell et al. size k for 2^-40)."""
    return 4 * math.ceil(math.log2(n))


def measure(n: int, degree: int | None, dropout: float, repeats: int, size: int) -> dict:
    inputs = client_inputs(n, size, seed=n)
    codec = codec_for(size, n, clip_range=0.05, max_weight=1.0)
    rng = np.random.default_rng(n)
    dropped = {int(c) for c in rng.choice(n, size=round(dropout * n), replace=False)}
    per_phase: dict[str, list[float]] = {p: [] for p in PHASES}
    server: dict[str, list[float]] = {p: [] for p in PHASES}
    client_total, server_total = [], []
    for repeat in range(repeats):
        run = secure_sum(inputs, codec, degree=degree, threshold=THRESHOLD, seed=repeat,
                         drop_after_sharing=dropped)  # fmt: skip
        kept = {c: v for c, v in inputs.items() if c not in dropped}
        assert np.array_equal(run.result.ring_sum, plain_ring_sum(kept, codec, repeat, 0))
        for phase in PHASES:
            per_phase[phase].append(run.per_client(phase).seconds)
            server[phase].append(run.server_seconds[phase])
        client_total.append(sum(run.per_client(p).seconds for p in PHASES))
        server_total.append(sum(run.server_seconds.values()))
    last = {p: run.per_client(p) for p in PHASES}
    plain = [plain_round(inputs, size) for _ in range(repeats)]
    plain_bytes, plain_server = plain[0][0], statistics.median(p[1] for p in plain)
    up = sum(t.bytes_up for t in last.values())
    down = sum(t.bytes_down for t in last.values())
    return {
        "clients": n,
        "degree": degree if degree is not None and degree < n - 1 else n - 1,
        "protocol": "SecAgg+" if degree is not None and degree < n - 1 else "SecAgg",
        "dropout": dropout,
        "client_bytes_up": {p: last[p].bytes_up for p in PHASES},
        "client_bytes_down": {p: last[p].bytes_down for p in PHASES},
        "client_up_total": up,
        "client_down_total": down,
        "plain_client_up": plain_bytes,
        "upload_ratio": up / plain_bytes,
        "client_seconds": {p: statistics.median(v) for p, v in per_phase.items()},
        "client_seconds_total": statistics.median(client_total),
        "server_seconds": {p: statistics.median(v) for p, v in server.items()},
        "server_seconds_total": statistics.median(server_total),
        "plain_server_seconds": plain_server,
        "round_bytes_up": up * (n - len(dropped)),
        "repeats": repeats,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| clients | protocol (k) | dropout | up / client | × plain | down / client | "
        "client s (keys+shares / mask / unmask) | server s (unmask) | plain server s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cs = r["client_seconds"]
        keys = cs["advertise"] + cs["share_keys"]
        lines.append(
            f"| {r['clients']} | {r['protocol']} ({r['degree']}) | {r['dropout']:.0%} | "
            f"{r['client_up_total'] / 1e6:.3f} MB | {r['upload_ratio']:.4f} | "
            f"{r['client_down_total'] / 1e3:.1f} kB | "
            f"{r['client_seconds_total']:.3f} "
            f"({keys:.3f} / {cs['mask']:.3f} / {cs['unmask']:.4f}) | "
            f"{r['server_seconds_total']:.2f} ({r['server_seconds']['unmask']:.2f}) | "
            f"{r['plain_server_seconds']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the JSON results")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--update-size", type=int, default=UPDATE_SIZE, help="for smoke runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for n in args.clients:
        degrees = [None] if harary_degree(n) >= n - 1 else [None, harary_degree(n)]
        for degree in degrees:
            for dropout in (0.0, 0.3):
                row = measure(n, degree, dropout, args.repeats, args.update_size)
                keys = ("clients", "protocol", "degree", "dropout", "client_seconds_total")
                print(json.dumps({k: row[k] for k in keys}), flush=True)
                rows.append(row)
    machine = {
        "cpu_model": cpu_model(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    result = {"machine": machine, "update_size": args.update_size, "rows": rows}
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)  # atomic: a crash never leaves half a file
    print(table(rows))


if __name__ == "__main__":
    main()
