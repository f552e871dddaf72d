"""Training memory of a ConformerCTC cut at an exit, for device budgets.

An analytic estimate, float32 throughout: weights, gradients and optimizer state of the
parameters up to the exit, plus the activations autograd keeps for the backward pass of one
batch. It decides which exit fits a device's memory (devices.tiers.*.memory_mb); it is not a
measurement of a process's peak memory (allocator slack, the Python runtime and the data are
left out), so a tier's memory_mb is "memory granted to the model", not the phone's RAM.
"""

from __future__ import annotations

from fedasr.models.dims import ConformerDims
from fedasr.models.flops import _subsampled

BYTES = 4  # float32
OPTIMIZER_SLOTS = {"sgd": 0, "adamw": 2}  # state tensors per parameter (AdamW: m and v)


def layer_activation_floats(dims: ConformerDims, index: int, frames: int) -> float:
    """Floats one layer keeps for backward, per utterance of `frames` subsampled frames."""
    w = dims.layer(index)
    d, attn, channels = dims.d_model, w["heads"] * dims.head_size, w["conv_channels"]
    ffn = 2 * (2 * d + 2 * w["ffn"])  # two FFNs: norm in/out, up projection, activation
    attention = 2 * d + 4 * attn + w["heads"] * frames  # norm, q/k/v/merged, probabilities
    conv = 2 * d + 6 * channels  # norm, pointwise (2C), GLU, depthwise, norm, activation
    return frames * (ffn + attention + conv + d)  # + the layer's final norm


def frontend_activation_floats(dims: ConformerDims, frames: int) -> float:
    t1, t2 = _subsampled(frames)
    f1, f2 = _subsampled(dims.n_mels)
    channels = dims.subsampling_channels
    return float(2 * channels * (t1 * f1 + t2 * f2) + t2 * dims.d_model)  # conv + ReLU, linear


def training_memory_bytes(
    dims: ConformerDims,
    depth: int,
    parameters: int,
    batch_seconds: float,
    optimizer: str = "adamw",
    utterance_seconds: float = 4.0,
) -> float:
    """Bytes to train `parameters` (those up to exit `depth`) on a batch of `batch_seconds` of
    audio made of utterances of `utterance_seconds` (attention is quadratic in length)."""
    frames = int(utterance_seconds * 100)
    utterances = max(1.0, batch_seconds / utterance_seconds)
    sub = max(_subsampled(frames)[1], 1)
    per_utterance = frontend_activation_floats(dims, frames)
    per_utterance += sum(
        layer_activation_floats(dims, i, sub) for i in range(dims.layers_for_exit(depth))
    )
    per_utterance += depth * 2 * sub * dims.vocab  # each exit's logits and log-probabilities
    state = parameters * (2 + OPTIMIZER_SLOTS.get(optimizer, 2))  # weights, gradients, slots
    return BYTES * (state + utterances * per_utterance)
