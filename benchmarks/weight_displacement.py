"""How far a run's final weights moved from its seeded initialization, per coordinate.

    python -m benchmarks.weight_displacement runs/official_fedavg runs/official_fedadam

For each run directory (config.yaml + model.safetensors) the initial weights are rebuilt from
the run's own config and seed by `fedasr.experiment.setup.initial_params` (the engine's own start),
and |theta_final - theta_init| is summarized: quantiles over all coordinates, the share above
0.1 / 0.3, and the median by kind of parameter. Used in docs/benchmarks.md to see whether a
server optimizer moves the weights too little (steps too small) or too much (noise amplified).
Runs started from `model.init_from` are measured against that file (the same function loads it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import load_file

from benchmarks.fl_bench import markdown_table
from fedasr.config import load_config
from fedasr.experiment.setup import initial_params
from fedasr.models.factory import model_dims

QUANTILES = (0.5, 0.9, 0.99, 0.999)
SAMPLE = 1_000_000  # torch.quantile refuses larger inputs; a seeded sample of coordinates


def initial_state(run: Path, final: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights the run started from, by the engine's own path (seeded init or
    `model.init_from`)."""
    config = load_config(run / "config.yaml")
    vocab = final["exits.0.out.bias"].numel()
    dims = model_dims(config.model, vocab, config.data.features.n_mels)
    layout, params = initial_params(config, dims)
    return layout.views(params)


def kind_of(name: str) -> str:
    if "norm" in name:
        return "norm"
    return "bias" if name.endswith("bias") else "weight"


def displacement(run: Path) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    final = load_file(run / "model.safetensors")
    init = initial_state(run, final)
    by_kind: dict[str, list[torch.Tensor]] = {}
    for name, start in init.items():
        if name not in final:
            continue
        moved = (final[name].float() - start.float()).abs().flatten()
        by_kind.setdefault(kind_of(name), []).append(moved)
    kinds = {k: torch.cat(v) for k, v in by_kind.items()}
    return torch.cat(list(kinds.values())), kinds


def row(run: Path) -> list[str]:
    every, kinds = displacement(run)
    generator = torch.Generator().manual_seed(0)
    sample = every[torch.randperm(every.numel(), generator=generator)[:SAMPLE]]
    quantiles = torch.quantile(sample, torch.tensor(QUANTILES))
    medians = [f"{k} {float(v.median()):.3f}" for k, v in sorted(kinds.items())]
    return [
        str(run), f"{every.numel():,}", *(f"{float(q):.3f}" for q in quantiles),
        f"{float((every > 0.1).float().mean()):.1%}", f"{float((every > 0.3).float().mean()):.2%}",
        ", ".join(medians),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    header = ["run", "coordinates", *(f"q{q:g}" for q in QUANTILES), "> 0.1", "> 0.3",
              "median by kind"]  # fmt: skip
    print(markdown_table(header, [row(run) for run in args.runs]))


if __name__ == "__main__":
    main()
