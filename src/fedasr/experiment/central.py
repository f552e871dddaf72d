"""The centralized baseline: one model on all training speakers, the FL upper bound.

`fedasr train CONFIG` uses the `client` section for the optimizer, learning rate, batch size,
SpecAugment and clipping (the same training step an FL client runs) and `central` for epochs
and the time budget. Results land in a run directory like a federated run's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedasr.config import ExperimentConfig
from fedasr.data.batching import seconds_to_frames
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.engine.checkpoint import save_checkpoint
from fedasr.engine.evaluation import ServerEvaluator
from fedasr.engine.export import export_params
from fedasr.experiment.opening import open_central_run
from fedasr.models.factory import model_dims
from fedasr.models.flat import FlatModel
from fedasr.train.local import LocalPlan, LocalStats, local_train
from fedasr.train.noise import noise_in_round, with_noise
from fedasr.train.objective import Objective
from fedasr.train.schedule import scheduled_lr
from fedasr.train.step import make_optimizer

log = logging.getLogger(__name__)


@dataclass
class CentralResult:
    run_dir: Path
    epochs: int
    steps: int
    seconds: float
    final: dict[str, Any]


def train_centralized(config: ExperimentConfig, progress: bool = True) -> CentralResult:
    torch.set_num_threads(max(config.client.threads, 1))
    run, bundle = open_central_run(config, progress=progress)  # checks before any write
    dims = model_dims(config.model, bundle.tokenizer.vocab_size, config.data.features.n_mels)
    flat = FlatModel(dims, seed=config.seed)
    model = flat.module
    evaluator = ServerEvaluator(dims, bundle, config.eval)
    client = config.client
    optimizer = make_optimizer(
        model.parameters(), client.optimizer, client.lr, client.momentum, client.weight_decay
    )
    specaug = SpecAugmentConfig(**client.specaugment.model_dump())
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train = bundle.train
    plan = LocalPlan(
        max_frames=seconds_to_frames(client.batch_seconds, train.store), depth=client.depth,
        grad_clip=client.grad_clip, specaugment=specaug, skip_nonfinite=True,
    )  # fmt: skip
    objective = Objective(tuple(client.exit_weights) if client.exit_weights else None)
    budget = (config.central.time_budget_min or float("inf")) * 60
    started, steps, epoch, record = time.perf_counter(), 0, 0, {}

    def out_of_time(stats: LocalStats) -> bool:
        return time.perf_counter() - started > budget

    torch.manual_seed(config.seed)
    for epoch in range(config.central.epochs):
        lr = scheduled_lr(client.lr, client.lr_schedule, epoch, config.central.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        noise = noise_in_round(client.variational_noise, epoch + 1)
        noise_seed = int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0])
        stats = local_train(
            model, optimizer, train, range(len(train)), plan, rng=rng, generator=generator,
            objective=with_noise(objective, noise, list(model.parameters()), noise_seed),
            should_stop=out_of_time,
        )  # fmt: skip
        steps += stats.steps
        elapsed = time.perf_counter() - started
        record = {
            "epoch": epoch + 1,
            "steps": steps,
            "lr": lr,
            "train_loss_per_frame": stats.loss_sum / max(stats.frames, 1),
            "flops": stats.flops,
            "wall_s": elapsed,
        }
        last = stats.stopped or epoch + 1 == config.central.epochs
        if (epoch + 1) % config.central.eval_every_epochs == 0 or last:
            record.update(evaluator.evaluate(flat.flat)[0])
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
        if stats.stopped:
            log.info("time budget of %.1f min reached after epoch %d", budget / 60, epoch + 1)
            break
    meta = {"run": str(run.path)}
    export_params(run.path / "model.safetensors", evaluator, bundle, config.data, flat.flat, meta)
    run.close()
    return CentralResult(run.path, epoch + 1, steps, time.perf_counter() - started, record)
