"""Server replay changes only the parameters it may change, and lowers the replay-set loss."""

from __future__ import annotations

import pytest
import torch

from fedasr.engine.loop import FederatedRun
from fedasr.errors import ConfigError
from fedasr.experiment import build_run
from fedasr.server.replay import ServerReplay, replay_set_loss


def replay_hook(run: FederatedRun) -> ServerReplay:
    return next(h for h in run.plugins if isinstance(h, ServerReplay))


def coordinates(run: FederatedRun, prefixes: tuple[str, ...]) -> torch.Tensor:
    """Mask of the flat coordinates that belong to parameters named with these prefixes."""
    mask = torch.zeros(run.layout.numel, dtype=torch.bool)
    layout = run.layout
    for name, view in layout.views(torch.arange(layout.numel)).items():
        if name.startswith(prefixes):
            mask[view.reshape(-1)] = True
    return mask


def loss_at(hook: ServerReplay, params: torch.Tensor) -> float:
    hook.model.load(params)
    return replay_set_loss(hook.model.module, hook.replay, hook.plan.max_frames)


@pytest.mark.parametrize(
    ("trainable", "prefixes"),
    [("exits", ("exits.",)), ("[layers.0., exits.2.]", ("layers.0.", "exits.2."))],
)
def test_replay_changes_only_the_allowed_parameters_and_lowers_the_loss(
    tiny_config, trainable: str, prefixes: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        f"server.replay={{steps: 8, lr: 0.003, trainable: {trainable}, specaugment: false}}"
    )
    run = build_run(config, progress=False)
    hook = replay_hook(run)
    start = run.server.main.clone()
    change = hook.after_aggregate(0, run.server)
    assert change.metrics["replay_steps"] == 8 and change.metrics["replay_flops"] > 0
    assert change.server is not None and torch.equal(run.server.main, start)  # a new state
    changed = change.server.main != start
    allowed = coordinates(run, prefixes)
    assert changed[allowed].any() and not changed[~allowed].any()
    assert loss_at(hook, change.server.main) < loss_at(hook, start)


def test_replay_set_from_a_manifest_and_speakers(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        "server.replay={manifest: test.jsonl, speakers: [espeak-01, flite-05], steps: 1}"
    )
    hook = replay_hook(build_run(config, progress=False))
    ids = [hook.replay.data.store.ids[r] for r in hook.replay.rows]
    assert sorted(i.rsplit("-", 1)[0] for i in ids) == ["espeak-01", "flite-05"]


@pytest.mark.parametrize(
    ("replay", "named"),
    [
        ("{trainable: [nothing.]}", "server.replay.trainable"),
        ("{speakers: [nobody]}", "server.replay.speakers"),
        ("{manifest: missing.jsonl}", "server.replay.manifest"),
    ],
)
def test_bad_replay_settings_name_the_key(tiny_config, replay: str, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=named):
        build_run(tiny_config(f"server.replay={replay}"), progress=False)
