"""HeteroFL: width slices of one model per tier, each slice evaluated and exported as a view,
its clients sending exactly the slice."""

from __future__ import annotations

import torch
from tiered import THREE_TIERS

from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run

HETEROFL = ("algorithm={name: heterofl, widths: {S: 0.25, M: 0.5}}", *THREE_TIERS,
            "eval.metric=heldout_wer")  # fmt: skip


def test_each_tier_trains_and_sends_its_slice_and_each_slice_is_evaluated(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*HETEROFL, "rounds.total=1")
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    run.execute()
    views = run.algorithm.views
    assert set(views) == {"S", "M"} and set(run.algorithm.param_dims) == {"global"}
    assert views["S"].index.numel() < views["M"].index.numel() < start.numel()
    record = read_metrics(config.resolved_run_dir())[0]
    tiers = record["devices"]["tiers"]
    for tier, clients in (("S", 2), ("M", 1)):
        assert tiers[tier]["bytes_up"] == clients * 4 * views[tier].index.numel()
    assert tiers["L"]["bytes_up"] == 4 * start.numel()
    for key in ("S_heldout_wer", "M_heldout_wer", "heldout_wer"):
        assert key in record
    for name in ("model.safetensors", "model-S.safetensors", "model-M.safetensors"):
        assert (config.resolved_run_dir() / name).is_file()
    assert not torch.equal(views["S"].take(run.server.params), views["S"].take({"global": start}))
