"""The client half's step hooks: held zeros stay zero through AdamW steps, and the Taylor
score of each group equals |sum w * dL/dw| summed over the steps (by hand with autograd)."""

from __future__ import annotations

import torch

from fedasr.algorithms.pruning.client import KeepZeros, TaylorScores
from fedasr.algorithms.pruning.masks import select
from fedasr.algorithms.pruning.structure import KINDS, build_structure
from fedasr.algorithms.pruning.view import client_view
from fedasr.data.batching import Batch
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel
from fedasr.train.objective import compose
from fedasr.train.step import ctc_losses, make_optimizer, train_step

DIMS = ConformerDims(
    n_mels=16, d_model=16, heads=2, head_size=4, ffn=12, conv_channels=8, conv_kernel=3,
    layers=2, exits=(1, 2), vocab=6, subsampling_channels=4, dropout=0.0,
)  # fmt: skip


def batch(seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    feats = torch.randn(2, 48, 16, generator=generator)
    targets = torch.randint(1, 6, (7,), generator=generator)  # two transcripts, 4 + 3 tokens
    return Batch(
        feats=feats, feat_lens=torch.tensor([48, 40]), targets=targets,
        target_lens=torch.tensor([4, 3]), rows=[0, 1], frames_per_second=100.0,
    )  # fmt: skip


def test_held_zeros_stay_zero_through_adamw_steps() -> None:
    structure = build_structure(DIMS, "half", KINDS)
    scores = torch.rand(structure.groups, generator=torch.Generator().manual_seed(0)).double()
    view = client_view(structure, select(structure, scores, 0.5, "uniform"))
    model = FlatModel(view.dims, seed=0)
    zeros = torch.nonzero(view.index < 0).reshape(-1)
    assert zeros.numel() > 0
    model.flat[zeros] = 0.0
    start = model.flat.clone()
    optimizer = make_optimizer(model.module.parameters(), "adamw", 0.01, 0.0, 0.1)
    objective = compose(None, [KeepZeros(zeros).bind(model)])
    for seed in range(3):
        train_step(model.module, optimizer, batch(seed), objective=objective, grad_clip=1.0)
    assert bool((model.flat[zeros] == 0).all())
    others = torch.ones(model.flat.numel(), dtype=torch.bool)
    others[zeros] = False
    assert bool((model.flat[others] != start[others]).float().mean() > 0.9)  # the rest trains


def test_without_the_hook_adamw_moves_them() -> None:
    """Why the hook exists: a zeroed conv channel still gets gradients through its biases."""
    structure = build_structure(DIMS, "column", ("conv",))
    keep = torch.ones(structure.groups, dtype=torch.bool)
    keep[0] = False
    view = client_view(structure, keep)
    model = FlatModel(view.dims, seed=0)
    zeros = torch.nonzero(view.index < 0).reshape(-1)
    model.flat[zeros] = 0.0
    optimizer = make_optimizer(model.module.parameters(), "adamw", 0.01, 0.0, 0.0)
    train_step(model.module, optimizer, batch())
    assert bool((model.flat[zeros] != 0).any())


def test_taylor_scores_by_hand() -> None:
    structure = build_structure(DIMS, "column", KINDS)
    model = FlatModel(DIMS, seed=1)
    scorer = TaylorScores(model, structure)
    optimizer = make_optimizer(model.module.parameters(), "sgd", 0.05, 0.0, 0.0)
    objective = compose(None, [scorer.objective()])
    expected = torch.zeros(structure.groups, dtype=torch.float64)
    owner = structure.owner()
    for seed in range(2):
        data = batch(seed)
        # by hand: the gradient of the mean CTC loss at the current weights, before the step
        model.module.zero_grad(set_to_none=True)
        output = model.module(data.feats, data.feat_lens)
        loss = sum(ctc_losses(output, data)) / data.size
        params = model.parameters_in_order()
        grads = torch.autograd.grad(loss, params)
        product = torch.cat(
            [(p.detach() * g).reshape(-1) for p, g in zip(params, grads, strict=True)]
        )
        step = torch.zeros(structure.groups, dtype=torch.float64)
        step.index_add_(0, owner[owner >= 0], product[owner >= 0].double())
        expected += step.abs()
        train_step(model.module, optimizer, data, objective=objective)
    assert torch.allclose(scorer.total, expected, rtol=1e-4, atol=1e-9)
    assert bool((scorer.total > 0).all())
