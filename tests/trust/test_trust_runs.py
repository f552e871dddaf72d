"""Trust inside real runs: robust aggregation, DP and SecAgg each give bit-identical weights on
the serial and process executors and after a resume; attacks and outcomes are logged; the
privacy spent reaches the record, the model file and the report."""

from __future__ import annotations

import pytest
import torch

from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run, run_federated
from fedasr.models.io import load_model_file
from fedasr.trust.accountant import Cohort, default_delta, epsilon

ROBUST = (
    "trust.attacks=[{kind: scale, factor: 10, rate: 0.34}]",
    "trust.robust={kind: trimmed_mean, trim: 0.34, clip: {mode: quantile, bound: 0.5}}",
)
DP = ("trust.dp={noise_multiplier: 0.3, clip_norm: 0.2, adaptive: {count_noise: 1.0}}",)
SECAGG = (
    "trust.secagg={clip_range: 1.0}",
    "trust.dp={mode: distributed, noise_multiplier: 0.3, clip_norm: 0.2, "
    "adaptive: {count_noise: 1.0}}",
)
MODES = {"robust": ROBUST, "dp": DP, "secagg": SECAGG}
FOUR_ROUNDS = ("rounds.total=4", "eval.every=2", "executor.shards=3")


def straight(config):  # type: ignore[no-untyped-def]
    run = build_run(config, progress=False)
    run.execute()
    return run.server


@pytest.mark.parametrize("mode", list(MODES))
def test_serial_process_and_resume_give_the_same_weights(tiny_config, tmp_path, mode) -> None:  # type: ignore[no-untyped-def]
    overrides = (*FOUR_ROUNDS, *MODES[mode])
    serial = straight(tiny_config(f"run_dir={tmp_path / 's'}", *overrides))
    pooled = straight(
        tiny_config(
            f"run_dir={tmp_path / 'p'}", "executor.kind=process", "executor.workers=2", *overrides
        )
    )
    config = tiny_config(f"run_dir={tmp_path / 'r'}", *overrides)
    first = build_run(config, progress=False)
    with first.executing():  # two rounds, checkpointed, then the process "dies"
        first.run_round(0)
        first.run_round(1)
        first._checkpoint()
    resumed = build_run(config, resume=True, progress=False)
    assert resumed.state.round == 2
    resumed.execute()
    for other in (pooled, resumed.server):
        assert torch.equal(serial.main, other.main)
        assert serial.extras.keys() == other.extras.keys()
        for key, value in serial.extras.items():  # clip bounds, the noise ledger
            assert torch.equal(value, other.extras[key]), key
    assert any(k.startswith("trust.") for k in serial.extras)  # the state did travel


def test_an_empty_trust_section_changes_nothing(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = straight(tiny_config(f"run_dir={tmp_path / 'a'}"))
    wrapped = straight(tiny_config(f"run_dir={tmp_path / 'b'}", "trust={}"))
    assert torch.equal(plain.main, wrapped.main)


def test_attackers_and_what_the_defence_did_are_logged(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clean = straight(tiny_config(f"run_dir={tmp_path / 'clean'}"))
    config = tiny_config(f"run_dir={tmp_path / 'attacked'}", *ROBUST)
    attacked = straight(config)
    assert not torch.equal(clean.main, attacked.main)
    for record in read_metrics(config.resolved_run_dir()):
        trust = record["server_trust"]
        assert len(trust["attacked"]) == 1 and set(trust["attacked"].values()) == {"scale"}
        robust = trust["robust"]
        assert robust["kind"] == "trimmed_mean" and robust["clip_bound"] > 0
        (attacker,) = trust["attacked"]
        # clipped to the bound and then trimmed where it is extreme: it is down-weighted
        assert robust["down_weighted"].get(attacker, 0.0) < 1.0


def test_the_privacy_spent_is_logged_exported_and_reported(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fedasr.report.build import load_runs
    from fedasr.report.summary import summary_rows
    from fedasr.report.table import summary_table

    config = tiny_config(*DP)
    run_federated(config, progress=False)
    run_dir = config.resolved_run_dir()
    dp = [record["server_trust"]["dp"] for record in read_metrics(run_dir)]
    cohort = Cohort(4, 3, "fixed_size")  # the mini corpus: 4 speaker clients, 3 a round
    for rounds, logged in enumerate(dp, start=1):
        assert logged["delta"] == pytest.approx(default_delta(4))
        assert logged["epsilon"] == pytest.approx(epsilon(0.3, rounds, cohort, default_delta(4)))
    assert dp[1]["clip_norm"] == dp[0]["next_clip_norm"] != dp[0]["clip_norm"]  # adaptive
    _, meta = load_model_file(run_dir / "model.safetensors")
    assert meta["privacy"]["epsilon"] == pytest.approx(dp[-1]["epsilon"])
    assert meta["privacy"]["rounds"] == 2 and meta["privacy"]["population"] == 4
    headers, cells = summary_table(summary_rows(load_runs([run_dir])), _target())
    assert headers[-1] == "privacy ε (δ)" and cells[0][-1].startswith(f"{dp[-1]['epsilon']:.3g}")


def _target():  # type: ignore[no-untyped-def]
    from fedasr.report.summary import Target

    return Target("heldout_wer", None, "given")


def test_a_target_epsilon_stops_the_run_cleanly(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cohort, delta = Cohort(4, 3, "fixed_size"), default_delta(4)
    target = (epsilon(0.5, 1, cohort, delta) + epsilon(0.5, 2, cohort, delta)) / 2
    dp = f"trust.dp={{noise_multiplier: 0.5, target_epsilon: {target}, target_action: stop}}"
    config = tiny_config("rounds.total=4", dp)
    summary = run_federated(config, progress=False)
    assert summary.rounds == 1  # a second round would pass the target
    records = read_metrics(config.resolved_run_dir())
    assert "target_epsilon" in records[-1]["privacy_stop"]
    assert records[-1]["server_trust"]["dp"]["epsilon"] <= target
    again = build_run(config, resume=True, progress=False)
    assert again.execute().rounds == 1  # the budget still holds on resume


def test_a_target_epsilon_sets_the_noise(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=2", "trust.dp={target_epsilon: 30.0}")
    run_federated(config, progress=False)
    dp = read_metrics(config.resolved_run_dir())[-1]["server_trust"]["dp"]
    assert dp["rounds"] == 2 and 29.0 < dp["epsilon"] <= 30.0


def test_secagg_without_dp_is_fedavg_up_to_fixed_point(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    common = ("rounds.total=1", "algorithm.weighting=uniform")
    plain = straight(tiny_config(f"run_dir={tmp_path / 'a'}", *common))
    secure = straight(tiny_config(f"run_dir={tmp_path / 'b'}", *common, "trust.secagg={}"))
    assert not torch.equal(plain.main, secure.main)  # stochastic rounding in the ring
    assert torch.allclose(plain.main, secure.main, atol=1e-6, rtol=0)


def test_secagg_recovers_clients_that_drop_after_sharing_keys(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        "rounds.min_clients=1", "algorithm.weighting=uniform", "trust.secagg={}",
        "faults.error={clients: [festival-01]}",
    )  # fmt: skip
    run_federated(config, progress=False)
    records = read_metrics(config.resolved_run_dir())
    dropped = [record["server_trust"]["secagg"]["dropped"] for record in records]
    assert dropped == [record["clients"]["failed"] for record in records]
    assert sum(dropped) >= 1  # festival-01 was sampled, failed, and its masks were removed


def test_an_aborted_secagg_round_changes_nothing_and_the_run_goes_on(tiny_config) -> None:  # type: ignore[no-untyped-def]
    # threshold 1: every share holder must answer, so any client failing after it shared
    # keys aborts the round (3 of the 4 clients are sampled: one of the two failing ones is)
    config = tiny_config(
        "rounds.min_clients=1", "algorithm.weighting=uniform", "trust.secagg={threshold: 1.0}",
        "faults.error={clients: [espeak-01, festival-01], rounds: [1]}",
    )  # fmt: skip
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    with run.executing():
        first = run.run_round(0)
        after_first = run.server.main.clone()
        second = run.run_round(1)
    assert "round aborted" in first["server_trust"]["secagg"]["aborted"]
    assert torch.equal(start, after_first)
    assert second["server_trust"]["secagg"]["dropped"] == 0
    assert not torch.equal(after_first, run.server.main)


@pytest.mark.parametrize(("before", "after"), [((), DP), (DP, ())])
def test_dp_cannot_start_or_stop_at_a_resume(tiny_config, before, after) -> None:  # type: ignore[no-untyped-def]
    from fedasr.errors import ConfigError

    run_federated(tiny_config("rounds.total=1", *before), progress=False)
    with pytest.raises(ConfigError, match=r"trust\.dp: the run was trained"):
        build_run(tiny_config("rounds.total=2", *after), resume=True, progress=False)
