"""A pruned client's training step: peak memory and time at each sparsity, measured.

    python benchmarks/bench_pruning_memory.py --corpus CORPUS [--json OUT.json] > table.md

The model a client of configs/pruning.yaml trains at each sparsity (uniform masks over the
tiny model's column groups, chosen by weight magnitude at initialization — a mask's shape,
not its content, sets the cost), on the real 5-second batches of one speaker client of CORPUS,
with the client's optimizer (AdamW), its mask hook and one torch thread, as a worker runs it.

- time: the median over `--steps` training steps (after two warm-up steps);
- peak memory: what lives across steps (weights, AdamW state, the batch: exact tensor sizes)
  plus the peak of what a steady-state step allocates on top — gradients, activations kept
  for backward, temporaries — as PyTorch's CPU allocator reports it to the profiler (the
  "Total Allocated" of its memory events), on the client's largest batch; the Python runtime
  and allocator slack are not in it. The median of `--repeats` profiled pairs of steps;
- the analytic estimate of models/memory.py for the same architecture, next to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from fedasr.algorithms.pruning.client import KeepZeros
from fedasr.algorithms.pruning.masks import magnitude_scores, select
from fedasr.algorithms.pruning.structure import KINDS, build_structure
from fedasr.algorithms.pruning.view import client_view
from fedasr.config import load_config
from fedasr.data.batching import Batch, batch_rows, seconds_to_frames
from fedasr.experiment.setup import build_setup
from fedasr.models.flat import FlatModel
from fedasr.models.flops import batch_flops
from fedasr.models.memory import training_memory_bytes
from fedasr.train.objective import compose
from fedasr.train.step import make_optimizer, train_step

CONFIG = Path(__file__).parents[1] / "configs" / "pruning.yaml"


def client_batches(corpus: str, workdir: str) -> tuple[Any, list[Batch]]:
    overrides = [f"data.corpus={corpus}", "data.synth_if_missing=null", f"run_dir={workdir}"]
    config = load_config(CONFIG, overrides)
    setup = build_setup(config, Path(workdir) / "tokenizer", progress=False)
    train = setup.bundle.train
    max_frames = seconds_to_frames(config.client.batch_seconds, train.store)
    registry = setup.registry
    rows = registry.rows[registry.offsets[0] : registry.offsets[1]]  # the first client's
    plan = batch_rows(rows, train.lengths, max_frames, np.random.default_rng(0))
    return (config, setup), [train.collate(chosen) for chosen in plan]


def tensor_bytes(tensors: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def peak_bytes(model: FlatModel, optimizer: torch.optim.Optimizer, step: Any, batch: Batch) -> int:
    """Peak bytes held while a worker trains: what lives across steps (weights, AdamW state,
    the batch) plus the peak of what two consecutive steps on `batch` allocate, as the CPU
    allocator reports it to the profiler ("Total Allocated" of its memory events). The second
    step starts with the first one's gradients alive, as train_step keeps them until after the
    forward pass, so the peak is a steady-state step's."""
    state = [t for slots in optimizer.state.values() for t in slots.values()]
    static = tensor_bytes([model.flat, *state, batch.feats, batch.targets, batch.feat_lens])
    model.module.zero_grad(set_to_none=True)  # the warm-up's gradients: freed, not counted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step(batch)
            step(batch)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace.json"
            prof.export_chrome_trace(str(path))
            events = json.loads(path.read_text())["traceEvents"]
    memory = [e["args"] for e in events if e.get("name") == "[memory]"]
    if not memory:
        return static
    # the reporter's total carries over from earlier sessions: count from this one's start
    baseline = memory[0]["Total Allocated"] - memory[0]["Bytes"]
    return static + int(max(m["Total Allocated"] for m in memory) - baseline)


def measure(
    setup: Any, config: Any, batches: list[Batch], pattern: str, sparsity: float, args: Any
) -> dict[str, Any]:
    structure = build_structure(setup.dims, pattern, KINDS)
    scores = magnitude_scores(structure, setup.init_params)
    keep = select(structure, scores, sparsity, "uniform")
    view = client_view(structure, keep)
    model = FlatModel(view.dims, seed=0)
    start = setup.init_params.index_select(0, view.index.clamp(min=0))
    model.load(start.masked_fill(view.index < 0, 0.0))
    client = config.client
    optimizer = make_optimizer(model.module.parameters(), "adamw", client.lr, 0.0, 0.0)
    zeros = torch.nonzero(view.index < 0).reshape(-1)
    pieces = [KeepZeros(zeros).bind(model)] if zeros.numel() else []
    objective = compose(None, pieces)
    generator = torch.Generator().manual_seed(0)
    cycle = iter(batches * (args.steps + 2))

    def step(batch: Batch | None = None) -> None:
        train_step(model.module, optimizer, batch or next(cycle), grad_clip=client.grad_clip,
                   generator=generator, objective=objective)  # fmt: skip

    for _ in range(2):
        step()
    times = []
    for _ in range(args.steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    largest = max(batches, key=lambda b: b.size * b.feats.shape[1])
    peaks = [peak_bytes(model, optimizer, step, largest) for _ in range(args.repeats)]
    frames = int(np.median([b.feats.shape[1] for b in batches]))
    size = int(np.median([b.size for b in batches]))
    return {
        "pattern": pattern,
        "sparsity": sparsity,
        "client_params": view.params,
        "held_params": view.held,
        "peak_bytes": int(statistics.median(peaks)),
        "peak_bytes_all": peaks,
        "step_s": statistics.median(times),
        "analytic_bytes": training_memory_bytes(
            view.dims, len(view.dims.exits), view.params, client.batch_seconds, "adamw"
        ),
        "gflop_per_step": batch_flops(view.dims, size, frames, None, train=True) / 1e9,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = ["pattern", "sparsity", "client params", "held params", "peak MB (measured)"]
    head += ["analytic MB", "step ms (median)", "GFLOP / step (median batch)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        lines.append(
            f"| {r['pattern']} | {100 * r['sparsity']:.0f} % | {r['client_params']:,} | "
            f"{r['held_params']:,} | {r['peak_bytes'] / 2**20:.1f} | "
            f"{r['analytic_bytes'] / 2**20:.1f} | {1000 * r['step_s']:.0f} | "
            f"{r['gflop_per_step']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75])
    parser.add_argument("--patterns", nargs="+", default=["column", "half"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a worker trains (executor.threads_per_worker)
    with tempfile.TemporaryDirectory() as workdir:
        (config, setup), batches = client_batches(args.corpus, workdir)
        rows = []
        for pattern in args.patterns:
            for sparsity in args.sparsities:
                if pattern != "column" and sparsity == 0:
                    continue  # the dense model is the same whatever the pattern
                rows.append(measure(setup, config, batches, pattern, sparsity, args))
                print(f"{pattern} {sparsity}: done", file=sys.stderr)
    cpu = _cpu_name()
    print(
        f"Client step on {cpu}, torch {torch.__version__}, 1 thread; {len(batches)} batches "
        f"of one client (5 s each), {args.steps} timed steps, {args.repeats} profiled.\n"
    )
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps({"cpu": cpu, "torch": torch.__version__, "rows": rows}))


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
