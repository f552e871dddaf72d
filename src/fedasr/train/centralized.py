"""The centralized baseline: one model on all training speakers, the FL upper bound.

`fedasr train CONFIG` uses the `client` section for the optimizer, learning rate, batch size,
SpecAugment and clipping (the same training step an FL client runs) and `central` for epochs
and the time budget. Results land in a run directory like a federated run's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedasr.asr.evaluate import EvalResult, evaluate
from fedasr.config import ExperimentConfig
from fedasr.data.batching import batch_rows, seconds_to_frames
from fedasr.data.bundle import DataBundle, feature_config
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.engine.checkpoint import save_checkpoint
from fedasr.engine.opening import open_central_run
from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.models.factory import model_dims
from fedasr.models.io import export_model
from fedasr.train.schedule import scheduled_lr
from fedasr.train.step import make_optimizer, train_step

log = logging.getLogger(__name__)


@dataclass
class CentralResult:
    run_dir: Path
    epochs: int
    steps: int
    seconds: float
    final: dict[str, Any]


def evaluate_splits(
    model: ConformerCTC,
    bundle: DataBundle,
    splits: Sequence[str],
    max_frames: int,
    limit: int | None,
) -> dict[str, EvalResult]:
    results = {}
    for split in splits:
        data = bundle.splits.get(split)
        if data is None:
            continue
        rows = list(range(len(data)))[:limit] if limit else None
        speakers = {u.id: u.speaker for u in bundle.utterances[split]}
        groups = [speakers[i] for i in data.store.ids]
        results[split] = evaluate(model, data, rows, max_frames=max_frames, groups=groups)
    return results


def eval_record(results: dict[str, EvalResult]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for split, result in results.items():
        record[f"{split}_wer"] = result.final.wer
        record[f"{split}_cer"] = result.final.cer
        record[f"{split}_wer_per_exit"] = [s.wer for s in result.per_exit]
    return record


def train_centralized(config: ExperimentConfig, progress: bool = True) -> CentralResult:
    torch.set_num_threads(max(config.client.threads, 1))
    run, bundle = open_central_run(config, progress=progress)  # checks before any write
    dims = model_dims(config.model, bundle.tokenizer.vocab_size, config.data.features.n_mels)
    model = build_model(dims, seed=config.seed)
    client = config.client
    optimizer = make_optimizer(
        model.parameters(), client.optimizer, client.lr, client.momentum, client.weight_decay
    )
    specaug = SpecAugmentConfig(**client.specaugment.model_dump())
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train = bundle.train
    max_frames = seconds_to_frames(client.batch_seconds, train.store)
    eval_frames = seconds_to_frames(config.eval.batch_seconds, train.store)
    budget = (config.central.time_budget_min or float("inf")) * 60
    started, steps, epoch, record = time.perf_counter(), 0, 0, {}
    torch.manual_seed(config.seed)
    for epoch in range(config.central.epochs):
        lr = scheduled_lr(client.lr, client.lr_schedule, epoch, config.central.epochs)
        losses, frames = 0.0, 0
        for rows in batch_rows(range(len(train)), train.lengths, max_frames, rng):
            for group in optimizer.param_groups:
                group["lr"] = lr
            result = train_step(
                model,
                optimizer,
                train.collate(rows),
                depth=client.depth,
                exit_weights=client.exit_weights,
                grad_clip=client.grad_clip,
                specaugment=specaug,
                generator=generator,
            )
            losses, frames, steps = losses + result.loss_sum, frames + result.frames, steps + 1
            if time.perf_counter() - started > budget:
                break
        elapsed = time.perf_counter() - started
        out_of_time = elapsed > budget
        record = {
            "epoch": epoch + 1,
            "steps": steps,
            "lr": lr,
            "train_loss_per_frame": losses / max(frames, 1),
            "wall_s": elapsed,
        }
        last = out_of_time or epoch + 1 == config.central.epochs
        if (epoch + 1) % config.central.eval_every_epochs == 0 or last:
            results = evaluate_splits(
                model, bundle, config.eval.splits, eval_frames, config.eval.max_utterances
            )
            record.update(eval_record(results))
            log.info(
                "epoch %d: %s", epoch + 1, {k: v for k, v in record.items() if "per_exit" not in k}
            )
        run.log(record, step=epoch + 1)
        save_checkpoint(
            run.checkpoints,
            epoch + 1,
            model.state_dict(),
            {"epoch": epoch + 1, "steps": steps},
            config.logging.keep_checkpoints,
        )
        if out_of_time:
            log.info("time budget of %.1f min reached after epoch %d", budget / 60, epoch + 1)
            break
    mean, std = train.mean, 1 / train.inv_std
    export_model(
        run.path / "model.safetensors",
        model,
        bundle.tokenizer,
        mean,
        std,
        feature_config(config.data),
        {"run": str(run.path)},
    )
    run.close()
    return CentralResult(run.path, epoch + 1, steps, time.perf_counter() - started, record)
