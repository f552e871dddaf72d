"""The worker's ClientContext beyond training: a client's data in batches exactly as its
training saw it (after its data conditions), and rows of another split loaded for the
algorithm (FedMD's public set)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from tiered import FEDMD

from fedasr.algorithms.context import ClientFailure, SplitRows
from fedasr.engine.cohort import make_tasks
from fedasr.engine.worker import WorkerContext
from fedasr.experiment import build_run
from fedasr.train.objective import Objective

CORRUPT = "partition.corrupt=[{share: 1.0, speed: 1.25, transcripts: shuffle}]"


def test_batches_are_the_clients_data_as_its_training_saw_it(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config(CORRUPT), progress=False)
    worker = WorkerContext(run.parts.worker)
    task = make_tasks(run.parts.registry, [0], run.config.seed, 0)[0]
    task = replace(task, spec=run.algorithm.server.spec_for(run.server, task))
    model = worker.model(task.spec)
    model.load(run.server.main)
    worker.train(model, task, 0.001, Objective())
    batches = list(worker.batches(model, task))
    assert sorted(row for batch in batches for row in batch.rows) == sorted(task.rows.tolist())
    clean = run.parts.bundle.train
    for batch in batches:
        for i, row in enumerate(batch.rows):
            # slower speech: fewer frames than stored; the client's own (shuffled) transcripts
            assert int(batch.feat_lens[i]) < int(clean.lengths[row])
        assert batch.feats.shape[0] == batch.size
    first = torch.cat([b.targets for b in batches])
    again = torch.cat([b.targets for b in worker.batches(model, task)])
    assert torch.equal(first, again)  # deterministic: no shuffling, the same prepared data


def test_rows_of_a_split_loaded_for_the_algorithm(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config(*FEDMD), progress=False)
    worker = WorkerContext(run.parts.worker)
    task = make_tasks(run.parts.registry, [0], run.config.seed, 0)[0]
    task = replace(task, spec=run.algorithm.server.spec_for(run.server, replace(task, tier="S")))
    model = worker.model(task.spec)
    size = worker.split_size("public")
    assert size == len(run.parts.bundle.splits["public"]) == 4
    rows = SplitRows("public", np.array([1, 3]))
    assert sorted(r for b in worker.batches(model, task, rows) for r in b.rows) == [1, 3]
    stats = worker.train(model, task, 0.001, Objective(), data=rows, epochs=2)
    assert stats.examples == 4  # two rows, two epochs
    with pytest.raises(ClientFailure, match="not loaded"):
        list(worker.batches(model, task, SplitRows("unlabelled", np.array([0]))))
