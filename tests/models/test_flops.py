"""Analytic FLOPs against torch's FlopCounterMode, per module and in total, at every depth.

On CPU FlopCounterMode does not count scaled_dot_product_attention (only the CUDA kernels are
registered), so the counter sees everything but the two attention products; that term,
4·T'^2·heads·head_size per layer, is checked against an explicit matmul count instead.
"""

from __future__ import annotations

import pytest
import torch
from model_helpers import TINY, UNEVEN, random_inputs
from torch.utils.flop_counter import FlopCounterMode

from fedasr.models.conformer import build_model, subsampled_lengths
from fedasr.models.dims import ConformerDims
from fedasr.models.flops import (
    batch_flops,
    exit_flops,
    flops_per_audio_second,
    forward_flops,
    frontend_flops,
    layer_flops,
)

FRAMES = 101
TUPLE_WIDTHS_NO_PROJ = UNEVEN.with_(proj_dim=0)


def attention_products(dims: ConformerDims, index: int, frames: int) -> float:
    return 4.0 * frames**2 * dims.layer(index)["heads"] * dims.head_size


def counted(dims: ConformerDims, depth: int, batch: int = 1) -> tuple[int, dict[str, int]]:
    model = build_model(dims, seed=0).eval()
    feats, lengths = random_inputs(dims, [FRAMES] * batch)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(feats, lengths, depth=depth)
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module


DIMS = {"uniform": TINY, "tuple-widths": TUPLE_WIDTHS_NO_PROJ, "tuple-widths+proj": UNEVEN}


@pytest.mark.parametrize("name", list(DIMS))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_forward_flops_match_the_flop_counter(name: str, depth: int) -> None:
    dims = DIMS[name]
    total, per_module = counted(dims, depth)
    sub = int(subsampled_lengths(torch.tensor(FRAMES)))
    layers = dims.layers_for_exit(depth)
    attention = sum(attention_products(dims, i, sub) for i in range(layers))
    assert forward_flops(dims, FRAMES, depth) - attention == total

    assert per_module["ConformerCTC.frontend"] == frontend_flops(dims, FRAMES)
    for i in range(layers):
        module = per_module[f"ConformerCTC.layers.{i}"]
        assert module == layer_flops(dims, i, sub) - attention_products(dims, i, sub)
    for e in range(depth):
        assert per_module[f"ConformerCTC.exits.{e}"] == exit_flops(dims, sub)
    assert f"ConformerCTC.layers.{layers}" not in per_module


def test_batch_flops_count_padding_and_training() -> None:
    total, _ = counted(TINY, 3, batch=2)
    sub = int(subsampled_lengths(torch.tensor(FRAMES)))
    attention = 2 * sum(attention_products(TINY, i, sub) for i in range(TINY.layers))
    assert batch_flops(TINY, 2, FRAMES, None, train=False) - attention == total
    assert batch_flops(TINY, 2, FRAMES, None, train=True) == 3 * batch_flops(
        TINY, 2, FRAMES, None, train=False
    )


@pytest.mark.parametrize("heads,head_size,frames", [(2, 16, 24), (3, 8, 7)])
def test_attention_term_equals_an_explicit_matmul_count(
    heads: int, head_size: int, frames: int
) -> None:
    q, k, v = (torch.randn(1, heads, frames, head_size) for _ in range(3))
    with FlopCounterMode(display=False) as counter:
        weights = (q @ k.transpose(-1, -2)).softmax(dim=-1)
        weights @ v
    dims = TINY.with_(heads=heads, head_size=head_size)
    assert counter.get_total_flops() == attention_products(dims, 0, frames)
    # and the quadratic part of layer_flops is exactly that count
    linear_per_frame = layer_flops(dims, 0, 1) - attention_products(dims, 0, 1)
    assert layer_flops(dims, 0, frames) - frames * linear_per_frame == counter.get_total_flops()


@pytest.mark.parametrize("dims", list(DIMS.values()), ids=list(DIMS))
def test_flops_grow_with_depth(dims: ConformerDims) -> None:
    per_depth = [forward_flops(dims, FRAMES, d) for d in range(1, len(dims.exits) + 1)]
    assert per_depth == sorted(set(per_depth))
    assert forward_flops(dims, FRAMES) == per_depth[-1]
    per_second = [flops_per_audio_second(dims, d) for d in range(1, len(dims.exits) + 1)]
    assert per_second == sorted(set(per_second))
