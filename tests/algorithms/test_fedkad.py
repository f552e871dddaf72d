"""FedKAD: knowledge aggregation by hand, L_KD at its prototypes, the exact bytes of a small
client, a three-tier round on the process executor against serial, and resume."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from tiered import FEDKAD, FEDMD, THREE_TIERS, D

from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator
from fedasr.algorithms.fedavg import CountWeighting
from fedasr.algorithms.fedkad import COUNT_KEY, MEAN_KEY, FedKADClient, PrototypeSharing
from fedasr.algorithms.knowledge import (
    COUNT,
    KNOWN,
    PROTOTYPES,
    SUM,
    LabelRule,
    PrototypeDistillation,
)
from fedasr.config import load_config
from fedasr.data.batching import Batch
from fedasr.engine.executors import make_executor
from fedasr.engine.rundir import read_metrics
from fedasr.errors import ConfigError
from fedasr.experiment import build_run
from fedasr.models.conformer import ModelOutput
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel, ParamLayout

CLIENT = FedKADClient(CountWeighting("examples"), LabelRule(), vocab=3, kd_weight=1.0)


def uploaded(name: str, mean: list[list[float]], count: list[float]) -> ClientResult:
    """What a client sends: its update (here one coordinate), mean features and counts."""
    extras = {MEAN_KEY: torch.tensor(mean), COUNT_KEY: torch.tensor(count)}
    return ClientResult(name, torch.zeros(1), 1, 10, 1.0, ClientCost(), extras=extras)


def test_knowledge_is_averaged_by_counts_and_an_unseen_label_keeps_its_value() -> None:
    acc = RoundAccumulator({"global": 1})
    # V = 3 labels, D = 2; client b saw neither label 1 nor label 2, client a not label 2
    CLIENT.fold(acc, uploaded("a", [[1.0, 1.0], [2.0, 0.0], [0.0, 0.0]], [1, 3, 0]))
    CLIENT.fold(acc, uploaded("b", [[3.0, 3.0], [0.0, 0.0], [0.0, 0.0]], [3, 0, 0]))
    sharing = PrototypeSharing(vocab=3, dim=2, distil=True, warmup_rounds=0)
    before = {
        PROTOTYPES: torch.tensor([[9.0, 9.0], [8.0, 8.0], [7.0, 7.0]]),
        KNOWN: torch.tensor([True, False, True]),
    }
    after, metrics = sharing.update(before, acc, round_index=0)
    expected = [[(1 * 1 + 3 * 3) / 4] * 2, [2.0, 0.0], [7.0, 7.0]]  # label 2 keeps its value
    assert torch.allclose(after[PROTOTYPES], torch.tensor(expected))
    assert after[KNOWN].tolist() == [True, True, True]  # known before, or seen now
    assert metrics == {"knowledge_labels_seen": 2, "knowledge_labels_known": 3}
    assert acc.plain[COUNT].tolist() == [4, 3, 0] and acc.plain[SUM].dtype == torch.float64


def test_a_label_never_seen_stays_unknown_and_nothing_is_sent_before_warm_up() -> None:
    sharing = PrototypeSharing(vocab=3, dim=2, distil=True, warmup_rounds=2)
    extras, _ = sharing.update(sharing.init(), RoundAccumulator({}), round_index=0)
    assert not extras[KNOWN].any() and sharing.broadcast(extras, 5) == {}  # nothing known yet
    acc = RoundAccumulator({"global": 1})
    CLIENT.fold(acc, uploaded("a", [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], [2, 0, 0]))
    extras, _ = sharing.update(extras, acc, round_index=0)
    assert extras[KNOWN].tolist() == [True, False, False]
    assert sharing.broadcast(extras, 1) == {}  # warm-up: no distillation yet
    assert set(sharing.broadcast(extras, 2)) == {PROTOTYPES, KNOWN}


def _model_and_output(level: str) -> tuple[FlatModel, ModelOutput, Batch, torch.Tensor]:
    small = dict(d_model=16, heads=2, head_size=8, ffn=16, conv_channels=8, layers=1, exits=(1,))
    dims = ConformerDims(**small, vocab=3, n_mels=8, subsampling_channels=4, proj_dim=4)
    model = FlatModel(dims, seed=0)
    prototypes = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([[0, 1, 1, 2, 0], [2, 2, 0, 0, 0]])
    lengths = torch.tensor([5, 3])
    hidden = prototypes[labels].clone().requires_grad_(True)  # every feature at its prototype
    log_probs = torch.full((2, 5, 3), -5.0).scatter(2, labels[..., None], -0.01)  # argmax = labels
    output = ModelOutput([log_probs], lengths, [hidden])
    batch = Batch(torch.zeros(2, 20, 8), torch.tensor([20, 12]), torch.tensor([1, 2, 2]),
                  torch.tensor([2, 1]), [0, 1], 100.0)  # fmt: skip
    return model, output, batch, prototypes


@pytest.mark.parametrize("level", ["feature", "logit"])
def test_lkd_is_zero_at_the_prototypes_and_its_gradient_is_finite(level: str) -> None:
    model, output, batch, prototypes = _model_and_output(level)
    known = torch.ones(3, dtype=torch.bool)
    piece = PrototypeDistillation(prototypes, known, 0.7, LabelRule("best_path"), level, 2.0)
    term = piece.bind(model, model.flat).terms[0]
    loss = term(output, batch)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    loss.backward()
    grad = output.hidden[0].grad
    assert grad is not None and bool(torch.isfinite(grad).all())
    assert float(grad.abs().max()) == pytest.approx(0.0, abs=1e-6)
    # away from the prototypes: positive, with a gradient pointing back to them
    moved = (prototypes[output.log_probs[0].argmax(-1)] + 0.5).requires_grad_(True)
    away = term(ModelOutput(output.log_probs, output.lengths, [moved]), batch)
    assert float(away.detach()) > 0
    away.backward()
    assert moved.grad is not None and bool(torch.isfinite(moved.grad).all())


def test_a_small_tier_client_uploads_its_parameters_plus_v_by_d_knowledge(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*FEDKAD, "rounds.total=2")
    run = build_run(config, progress=False)
    run.execute()
    vocab, small = (
        run.algorithm.param_dims["S"].vocab,
        ParamLayout.for_dims(run.algorithm.param_dims["S"]).numel,
    )
    records = read_metrics(config.resolved_run_dir())
    for record in records:
        row = record["devices"]["tiers"]["S"]
        clients = row["succeeded"]
        assert clients == row["clients"] == 2
        # up: the parameters, V x D mean features and V counts, all float32
        assert row["bytes_up"] == clients * 4 * (small + vocab * D + vocab)
    # down: the parameters; from round 2 (after warm-up) also the prototypes and known mask
    assert records[0]["devices"]["tiers"]["S"]["bytes_down"] == 2 * 4 * small
    assert records[1]["devices"]["tiers"]["S"]["bytes_down"] == 2 * (
        4 * small + 4 * vocab * D + vocab
    )
    assert records[1]["server_knowledge_labels_known"] > 1
    assert "S_heldout_wer" in records[-1] and "L_test_wer" in records[-1]
    for tier in ("S", "M", "L"):
        assert (config.resolved_run_dir() / f"model-{tier}.safetensors").is_file()


needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install -e '.[ray]')"
)


@pytest.mark.parametrize(
    ("method", "kind"),
    [(FEDKAD, "process"), (FEDMD, "process"), pytest.param(FEDKAD, "ray", marks=needs_ray)],
    ids=["fedkad-process", "fedmd-process", "fedkad-ray"],
)
def test_a_three_tier_round_on_another_executor_equals_serial(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path, method, kind
) -> None:
    runs = []
    for executor in ("serial", kind):
        config = tiny_config(
            f"run_dir={tmp_path / executor}", *method, "rounds.total=2",
            f"executor.kind={executor}", "executor.workers=2", "executor.shards=3",
        )  # fmt: skip
        run = build_run(config, progress=False)
        start = {name: tensor.clone() for name, tensor in run.server.params.items()}
        run.execute()
        runs.append(run)
        assert all(not torch.equal(start[t], run.server.params[t]) for t in ("S", "M", "L"))
        tiers = read_metrics(config.resolved_run_dir())[1]["devices"]["tiers"]
        assert set(tiers) == {"S", "M", "L"}  # the round mixed all three architectures
    serial, other = runs
    for name in ("S", "M", "L"):
        assert torch.equal(serial.server.params[name], other.server.params[name])
    assert serial.server.extras.keys() == other.server.extras.keys() != set()
    for key, tensor in serial.server.extras.items():
        assert torch.equal(tensor, other.server.extras[key])


def test_a_tiered_run_resumes_bit_identically(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    straight = build_run(tiny_config(f"run_dir={tmp_path / 'straight'}", *FEDKAD, "rounds.total=3"),
                         progress=False)  # fmt: skip
    straight.execute()
    config = tiny_config(f"run_dir={tmp_path / 'killed'}", *FEDKAD, "rounds.total=3")
    killed = build_run(config, progress=False)
    killed.executor = make_executor("serial", killed.parts.worker, 1)
    killed.run_round(0)
    killed.run_round(1)
    del killed
    resumed = build_run(config, resume=True, progress=False)
    assert resumed.state.round == 2
    resumed.execute()
    for name in ("S", "M", "L"):
        assert torch.equal(straight.server.params[name], resumed.server.params[name])
    for key, tensor in straight.server.extras.items():
        assert torch.equal(tensor, resumed.server.extras[key])
    assert [m["round"] for m in read_metrics(config.resolved_run_dir())] == [1, 2, 3]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (("algorithm.name=fedkad",), "devices.tiers"),
        ((*THREE_TIERS[2:], "algorithm.name=fedkad"), "model.tiers"),
        ((*THREE_TIERS, "algorithm.name=fedkad", "devices.tiers.S.model=XL"), "devices.tiers.S"),
        ((*THREE_TIERS, "model.tier=XL"), "model.tier"),
        ((*THREE_TIERS, "model.tiers.S.overrides.width=3", "algorithm.name=tiers"), "width"),
        ((*THREE_TIERS, "algorithm={name: heterofl, widths: {XL: 0.5}}"), "widths.XL"),
        ((*THREE_TIERS, "algorithm={name: heterofl, widths: {S: 1.5}}"), "(0, 1]"),
    ],
)
def test_tier_configs_are_checked_when_they_load(overrides: tuple[str, ...], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, list(overrides))
    assert named in str(info.value)


def test_tiers_need_one_feature_size(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*FEDKAD, "model.overrides.proj_dim=0")
    with pytest.raises(ConfigError, match="proj_dim"):
        build_run(config, progress=False)
    assert math.isfinite(D)


def test_the_clock_plans_a_tier_client_with_its_own_model(tiny_config) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from fedasr.devices.clock import WorkloadPlanner
    from fedasr.engine.cohort import make_tasks
    from fedasr.models.flops import batch_flops

    run = build_run(tiny_config(*FEDKAD), progress=False)
    setup_dims = run.parts.worker.dims
    main = ConformerDims(**setup_dims)
    train = run.parts.bundle.train
    planner = WorkloadPlanner(
        main, ParamLayout.for_dims(main), train.lengths, 10**6, 1, None, False
    )
    task = make_tasks(run.parts.registry, [0], run.config.seed, 0)[0]
    small = replace(
        task, tier="S", spec=run.algorithm.server.spec_for(run.server, replace(task, tier="S"))
    )
    dims = run.algorithm.param_dims["S"]
    assert planner.bytes(small) == (4 * ParamLayout.for_dims(dims).numel,) * 2
    rows = task.rows
    expected = batch_flops(dims, len(rows), int(train.lengths[rows].max()), None, True)
    assert planner.flops(small) == pytest.approx(expected)  # one batch holds every row
