"""ConformerCTC forward: shapes per exit and depth, early stop, padding invariance."""

from __future__ import annotations

import pytest
import torch
from model_helpers import TINY, UNEVEN, random_inputs

from fedasr.errors import ConfigError
from fedasr.models.conformer import build_model, subsampled_lengths
from fedasr.models.dims import ConformerDims

LENGTHS = [61, 40, 23]


@pytest.mark.parametrize("dims", [TINY, UNEVEN], ids=["uniform", "uneven+proj"])
@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_shapes_per_exit_and_depth(dims: ConformerDims, depth: int | None) -> None:
    model = build_model(dims, seed=0).eval()
    feats, lengths = random_inputs(dims, LENGTHS)
    out = model(feats, lengths, depth=depth)
    exits = depth or len(dims.exits)
    frames = int(subsampled_lengths(torch.tensor(max(LENGTHS))))
    assert len(out.log_probs) == len(out.hidden) == exits
    assert torch.equal(out.lengths, subsampled_lengths(lengths))
    for log_probs, hidden in zip(out.log_probs, out.hidden, strict=True):
        assert log_probs.shape == (len(LENGTHS), frames, dims.vocab)
        assert hidden.shape == (len(LENGTHS), frames, dims.feature_dim())
        total = log_probs.exp().sum(dim=-1)
        assert torch.allclose(total, torch.ones_like(total), atol=1e-5)


def test_shallow_forward_skips_deeper_layers_and_exits() -> None:
    model = build_model(TINY, seed=0).eval()
    called: list[str] = []
    for kind, modules in (("layer", model.layers), ("exit", model.exits)):
        for i, module in enumerate(modules):
            module.register_forward_hook(lambda *_, tag=f"{kind}{i}": called.append(tag))
    feats, lengths = random_inputs(TINY, LENGTHS)
    model(feats, lengths, depth=1)
    assert called == ["layer0", "exit0"]


def test_shallow_exit_equals_the_full_forward_exit() -> None:
    model = build_model(UNEVEN, seed=1).eval()
    feats, lengths = random_inputs(UNEVEN, LENGTHS, seed=1)
    full = model(feats, lengths)
    for depth in (1, 2):
        shallow = model(feats, lengths, depth=depth)
        for k in range(depth):
            assert torch.equal(shallow.log_probs[k], full.log_probs[k])
            assert torch.equal(shallow.hidden[k], full.hidden[k])


def test_padding_does_not_leak_into_real_frames() -> None:
    model = build_model(UNEVEN, seed=2).eval()
    feats, lengths = random_inputs(UNEVEN, LENGTHS, seed=2)
    batched = model(feats, lengths)
    for i, length in enumerate(LENGTHS):
        alone = model(feats[i : i + 1, :length], lengths[i : i + 1])
        valid = int(alone.lengths[0])
        for together, single in zip(batched.log_probs, alone.log_probs, strict=True):
            assert torch.allclose(together[i, :valid], single[0], atol=1e-4)


def test_same_seed_same_weights_and_rng_untouched() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, second = build_model(TINY, seed=5), build_model(TINY, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = build_model(TINY, seed=6).state_dict()["layers.0.attn.qkv.weight"]
    assert not torch.equal(first.state_dict()["layers.0.attn.qkv.weight"], other)


@pytest.mark.parametrize(
    "changes",
    [
        {"exits": (1, 2)},  # last exit not after the last layer
        {"exits": (2, 1, 3)},
        {"exits": (0, 3)},
        {"ffn": (64, 64)},  # one width per layer needed
        {"heads": (2, 0, 2)},
    ],
)
def test_bad_dims_are_config_errors(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"model\."):
        TINY.with_(**changes)


def test_depth_beyond_the_exits_is_a_config_error() -> None:
    model = build_model(TINY, seed=0)
    feats, lengths = random_inputs(TINY, [30])
    with pytest.raises(ConfigError, match=r"exits 1\.\.3"):
        model(feats, lengths, depth=4)
