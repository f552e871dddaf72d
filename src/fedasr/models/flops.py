"""Analytic FLOPs of a ConformerCTC, per batch and per second of audio, at any depth.

Counts 2 FLOPs per multiply-accumulate in matrix products and convolutions (what
torch.utils.flop_counter counts; a test holds the two together) and ignores elementwise ops,
norms and activations (a few percent). Training is counted as 3x forward (backward computes
gradients for both inputs and weights), the usual convention.
"""

from __future__ import annotations

from fedasr.models.dims import ConformerDims

TRAIN_FACTOR = 3.0


def _subsampled(frames: int) -> tuple[int, int]:
    first = (frames - 1) // 2
    return first, (first - 1) // 2


def frontend_flops(dims: ConformerDims, frames: int) -> float:
    t1, t2 = _subsampled(frames)
    f1, f2 = _subsampled(dims.n_mels)
    c = dims.subsampling_channels
    conv1 = t1 * f1 * c * 9 * 2
    conv2 = t2 * f2 * c * c * 9 * 2
    return float(conv1 + conv2 + t2 * 2 * c * f2 * dims.d_model)


def layer_flops(dims: ConformerDims, index: int, frames: int) -> float:
    """One Conformer layer on `frames` subsampled frames (attention is quadratic in it)."""
    w = dims.layer(index)
    d, attn = dims.d_model, w["heads"] * dims.head_size
    ffn = 2 * (2 * d * w["ffn"] * 2)
    projections = 2 * d * 3 * attn + 2 * attn * d
    conv = 2 * d * 2 * w["conv_channels"] + 2 * w["conv_channels"] * dims.conv_kernel
    conv += 2 * w["conv_channels"] * d
    per_frame = ffn + projections + conv
    return float(frames * per_frame + 2 * 2 * frames * frames * attn)


def exit_flops(dims: ConformerDims, frames: int) -> float:
    if dims.proj_dim:
        return float(frames * 2 * (dims.d_model * dims.proj_dim + dims.proj_dim * dims.vocab))
    return float(frames * 2 * dims.d_model * dims.vocab)


def forward_flops(dims: ConformerDims, frames: int, depth: int | None = None) -> float:
    """Forward FLOPs for one utterance of `frames` feature frames, up to exit `depth`."""
    depth = depth or len(dims.exits)
    _, sub = _subsampled(frames)
    sub = max(sub, 1)
    layers = dims.layers_for_exit(depth)
    total = frontend_flops(dims, frames)
    total += sum(layer_flops(dims, i, sub) for i in range(layers))
    return total + depth * exit_flops(dims, sub)


def batch_flops(
    dims: ConformerDims,
    batch_size: int,
    padded_frames: int,
    depth: int | None,
    train: bool,
    frozen_frontend: bool = False,
) -> float:
    """FLOPs the device really spends on a padded batch (padding is computed too). A frozen
    front-end only runs forward: no gradient flows into it, nor through it to the features."""
    flops = batch_size * forward_flops(dims, padded_frames, depth)
    if not train:
        return flops
    if frozen_frontend:
        front = batch_size * frontend_flops(dims, padded_frames)
        return TRAIN_FACTOR * (flops - front) + front
    return flops * TRAIN_FACTOR


def flops_per_audio_second(
    dims: ConformerDims, depth: int | None = None, utterance_seconds: float = 4.0
) -> float:
    """Forward FLOPs per second of audio at a typical utterance length (attention is quadratic,
    so the figure depends mildly on the length)."""
    frames = int(utterance_seconds * 100)
    return forward_flops(dims, frames, depth) / utterance_seconds
