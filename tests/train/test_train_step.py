"""The shared training step: exit weights, depth-limited updates, SpecAugment, optimizers."""

from __future__ import annotations

import pytest
import torch
from train_helpers import SMALL, fixture_batch

from fedasr.data.batching import Batch
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.errors import ConfigError
from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.train.objective import Objective
from fedasr.train.step import exit_weights_for, make_optimizer, reset_optimizer, train_step

DEEP = SMALL.with_(layers=3, exits=(1, 2, 3))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return fixture_batch(tmp_path_factory.mktemp("cache"), count=2)[0]


def snapshot(model: ConformerCTC) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def changed(before: dict[str, torch.Tensor], model: ConformerCTC) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_exit_weights_default_to_the_unweighted_sum() -> None:
    assert exit_weights_for(3, None) == [1.0, 1.0, 1.0]
    assert exit_weights_for(2, [0.2, 0.3, 0.5]) == [0.2, 0.3]
    with pytest.raises(ConfigError, match=r"client\.exit_weights: 2 values for 3 exits"):
        exit_weights_for(3, [0.5, 0.5])


def test_the_loss_is_the_weighted_sum_of_the_exit_losses(batch: Batch) -> None:
    model = build_model(DEEP, seed=0)
    optimizer = make_optimizer(model.parameters(), "sgd", 0.0, 0.0, 0.0)
    weights = [0.2, 0.3, 0.5]
    result = train_step(model, optimizer, batch, objective=Objective(weights))
    assert len(result.per_exit) == 3 and result.finite
    assert result.loss_sum == pytest.approx(
        sum(w * x for w, x in zip(weights, result.per_exit, strict=True))
    )
    assert (result.utterances, result.frames) == (2, int(batch.feat_lens.sum()))


def test_a_shallow_step_leaves_deeper_layers_and_exits_alone(batch: Batch) -> None:
    model = build_model(DEEP, seed=0)
    optimizer = make_optimizer(model.parameters(), "adamw", 1e-3, 0.0, 0.01)
    before = snapshot(model)
    result = train_step(model, optimizer, batch, depth=1)
    assert len(result.per_exit) == 1
    moved = changed(before, model)
    assert any(k.startswith("layers.0.") for k in moved) and "exits.0.out.weight" in moved
    assert not any(k.startswith(("layers.1.", "layers.2.", "exits.1.", "exits.2.")) for k in moved)
    deeper = [p for name, p in model.named_parameters() if name.startswith("layers.2.")]
    assert all(p.grad is None for p in deeper)  # weight decay cannot touch them either


def test_a_zero_exit_weight_trains_the_layers_below_through_later_exits(batch: Batch) -> None:
    model = build_model(DEEP, seed=0)
    optimizer = make_optimizer(model.parameters(), "sgd", 0.1, 0.0, 0.0)
    before = snapshot(model)
    train_step(model, optimizer, batch, objective=Objective([0.0, 1.0, 1.0]))
    moved = changed(before, model)
    assert not any(k.startswith("exits.0.") for k in moved)
    assert "layers.0.ffn1.up.weight" in moved and "exits.1.out.weight" in moved


def test_specaugment_is_reproducible_from_its_generator(batch: Batch) -> None:
    config = SpecAugmentConfig(freq_masks=2, freq_width=8, time_masks=2, time_width_ratio=0.2)
    results = []
    for seed in (7, 7, 8):
        model = build_model(SMALL, seed=0)
        optimizer = make_optimizer(model.parameters(), "sgd", 0.0, 0.0, 0.0)
        gen = torch.Generator().manual_seed(seed)
        results.append(train_step(model, optimizer, batch, specaugment=config, generator=gen))
    plain = train_step(model, optimizer, batch)
    assert results[0].loss_sum == results[1].loss_sum
    assert len({results[0].loss_sum, results[2].loss_sum, plain.loss_sum}) == 3


def test_clipping_bounds_the_update(batch: Batch) -> None:
    steps = []
    for clip in (None, 1e-3):
        model = build_model(SMALL, seed=0)
        optimizer = make_optimizer(model.parameters(), "sgd", 1.0, 0.0, 0.0)
        before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        train_step(model, optimizer, batch, grad_clip=clip)
        after = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
        steps.append(float((after - before).norm()))
    assert steps[1] == pytest.approx(1e-3, rel=1e-3) and steps[0] > 10 * steps[1]


def test_an_impossible_alignment_counts_as_zero_and_stays_finite(batch: Batch) -> None:
    frames = int(batch.feat_lens.min()) // 4
    impossible = Batch(
        feats=batch.feats[:1],
        feat_lens=batch.feat_lens[:1],
        targets=torch.full((frames * 2,), 3, dtype=torch.int64),
        target_lens=torch.tensor([frames * 2]),
        rows=batch.rows[:1],
        frames_per_second=batch.frames_per_second,
    )
    model = build_model(SMALL, seed=0)
    optimizer = make_optimizer(model.parameters(), "sgd", 0.1, 0.0, 0.0)
    result = train_step(model, optimizer, impossible)
    assert result.finite and result.loss_sum == 0.0


def test_optimizers_by_name_and_reset() -> None:
    params = list(build_model(SMALL, seed=0).parameters())
    assert isinstance(make_optimizer(params, "sgd", 0.1, 0.9, 0.0), torch.optim.SGD)
    adamw = make_optimizer(params, "adamw", 0.1, 0.0, 0.01)
    adamw.state[params[0]]["step"] = torch.tensor(3.0)
    reset_optimizer(adamw, 0.5)
    assert adamw.param_groups[0]["lr"] == 0.5
    assert all(not value.any() for state in adamw.state.values() for value in state.values())
    with pytest.raises(ConfigError, match="allowed: 'sgd', 'adamw'"):
        make_optimizer(params, "adam", 0.1, 0.0, 0.0)


@pytest.mark.parametrize(("name", "momentum"), [("adamw", 0.0), ("sgd", 0.9)])
def test_a_reset_optimizer_steps_exactly_like_a_fresh_one(
    batch: Batch, name: str, momentum: float
) -> None:
    def steps(model: ConformerCTC, optimizer: torch.optim.Optimizer) -> None:
        for _ in range(2):
            train_step(model, optimizer, batch)

    used, fresh = build_model(DEEP, seed=0), build_model(DEEP, seed=0)
    optimizer = make_optimizer(used.parameters(), name, 0.01, momentum, 0.01)
    steps(used, optimizer)  # leaves moments and step counts behind
    fresh.load_state_dict(used.state_dict())
    reset_optimizer(optimizer, 0.01)
    steps(used, optimizer)
    steps(fresh, make_optimizer(fresh.parameters(), name, 0.01, momentum, 0.01))
    pairs = zip(used.parameters(), fresh.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
