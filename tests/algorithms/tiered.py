"""Three model tiers on the mini corpus for tests: S (1 layer at width 16), M (2 layers), L (the
tests' tiny model, 3 layers), one shared feature size D = 16, and a device tier per model tier;
the mini corpus's four speakers become 2 S, 1 M and 1 L client, all sampled every round."""

from __future__ import annotations

D = 16
THREE_TIERS = (
    f"model.overrides.proj_dim={D}",
    "model.tiers={S: {overrides: {d_model: 16, layers: 1, exits: [1]}}, "
    "M: {overrides: {layers: 2, exits: [1, 2]}}, L: {}}",
    "devices.tiers={"
    "S: {flops_per_s: 1.0e9, downlink_bytes_per_s: 1.0e6, uplink_bytes_per_s: 2.5e5}, "
    "M: {flops_per_s: 4.0e9, downlink_bytes_per_s: 4.0e6, uplink_bytes_per_s: 1.0e6}, "
    "L: {flops_per_s: 1.6e10, downlink_bytes_per_s: 1.25e7, uplink_bytes_per_s: 5.0e6}}",
    "devices.shares={S: 1, M: 1, L: 1}",
    "rounds.clients_per_round=4",
    "eval.metric=L_heldout_wer",
)
FEDKAD = ("algorithm={name: fedkad, kd_weight: 0.5, warmup_rounds: 1}", *THREE_TIERS)
FEDMD = ("algorithm={name: fedmd, public_subset: 3}", "data.public=heldout.jsonl", *THREE_TIERS)
