"""Writing a run's model files: a self-contained model.safetensors (weights, dims, tokenizer,
CMVN, feature config) that `fedasr eval` and any later `model.init_from` read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.spec import MAIN
from fedasr.config import DataSection
from fedasr.data.bundle import DataBundle, feature_config
from fedasr.engine.evaluation import ServerEvaluator, SetEvaluators
from fedasr.models.io import export_model


def export_params(
    path: Path,
    evaluator: ServerEvaluator,
    bundle: DataBundle,
    data: DataSection,
    params: torch.Tensor,
    meta: dict[str, Any],
) -> None:
    """Export `params` through the evaluator's model (which then holds them)."""
    evaluator.load(params)
    train = bundle.train
    export_model(
        path, evaluator.model, bundle.tokenizer, train.mean, 1 / train.inv_std,
        feature_config(data), meta,
    )  # fmt: skip


def export_sets(
    run_dir: Path,
    stem: str,
    evaluators: SetEvaluators,
    bundle: DataBundle,
    data: DataSection,
    params: dict[str, torch.Tensor],
    meta: dict[str, Any],
) -> None:
    """STEM.safetensors for the main set, STEM-NAME.safetensors for any other set or view."""
    for name, values in evaluators.values(params).items():
        path = run_dir / (f"{stem}.safetensors" if name == MAIN else f"{stem}-{name}.safetensors")
        evaluator = evaluators.by_set[name]
        export_params(path, evaluator, bundle, data, values, {**meta, "param_set": name})
