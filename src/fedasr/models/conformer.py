"""ConformerCTC: conv subsampling x4, Conformer blocks, a linear CTC exit after chosen blocks.

Reads top to bottom: Subsampling -> ConformerLayer (Macaron FFN, self-attention with rotary
positions, convolution module, FFN) -> Exit. `forward(..., depth=k)` runs only the layers up to
exit k, which is how a low-tier early-exit client trains and infers. LayerNorm replaces the
convolution module's BatchNorm: batch statistics have no sound federated average.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fedasr.models.dims import ConformerDims

MIN_FRAMES = 7  # the shortest input two 3x3 stride-2 convolutions accept


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after two 3x3 stride-2 convolutions without padding."""
    return ((lengths - 1) // 2 - 1) // 2


class Subsampling(nn.Module):
    def __init__(self, n_mels: int, channels: int, d_model: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)
        self.out = nn.Linear(channels * (((n_mels - 1) // 2 - 1) // 2), d_model)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.shape[1] < MIN_FRAMES:  # a ~70 ms clip must not crash the batch it is in
            feats = F.pad(feats, (0, 0, 0, MIN_FRAMES - feats.shape[1]))
        x = F.relu(self.conv2(F.relu(self.conv1(feats.unsqueeze(1)))))
        batch, channels, frames, bins = x.shape
        return self.out(x.transpose(1, 2).reshape(batch, frames, channels * bins))


class FeedForward(nn.Module):
    def __init__(self, d_model: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, hidden)
        self.down = nn.Linear(hidden, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(self.dropout(F.silu(self.up(self.norm(x))))))


Rotary = tuple[torch.Tensor, torch.Tensor]


def rotary_tables(frames: int, head_size: int, device: torch.device) -> Rotary:
    """cos/sin tables of rotary position embedding (RoFormer), computed once per forward and
    shared by every layer: relative positions without parameters, so slicing heads or exits
    never touches a position table."""
    half = head_size // 2
    freqs = 10000.0 ** (-torch.arange(half, dtype=torch.float32, device=device) / half)
    angles = torch.arange(frames, dtype=torch.float32, device=device)[:, None] * freqs
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, tables: Rotary) -> torch.Tensor:
    """Apply rotary embedding to (B, heads, T, head_size)."""
    cos, sin = tables
    half = cos.shape[-1]
    first, second = x[..., :half], x[..., half : 2 * half]
    rotated = torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)
    return rotated if 2 * half == x.shape[-1] else torch.cat([rotated, x[..., 2 * half :]], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, head_size: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_size, self.dropout_p = heads, head_size, dropout
        self.norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * heads * head_size)
        self.out = nn.Linear(heads * head_size, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, tables: Rotary) -> torch.Tensor:
        batch, frames, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(batch, frames, 3, self.heads, self.head_size)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            rotate(q, tables),
            rotate(k, tables),
            v,
            attn_mask=keep[:, None, None, :],
            dropout_p=self.dropout_p if self.training else 0.0,
        )
        merged = attended.transpose(1, 2).reshape(batch, frames, self.heads * self.head_size)
        return self.dropout(self.out(merged))


class ConvModule(nn.Module):
    def __init__(self, d_model: int, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.pw_in = nn.Linear(d_model, 2 * channels)  # GLU: values, then gates
        self.dw = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.dw_norm = nn.LayerNorm(channels)
        self.pw_out = nn.Linear(channels, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        y = F.glu(self.pw_in(self.norm(x)), dim=-1)
        y = y.masked_fill(~keep[..., None], 0.0)  # padding must not leak into real frames
        y = self.dw(y.transpose(1, 2)).transpose(1, 2)
        return self.dropout(self.pw_out(F.silu(self.dw_norm(y))))


class ConformerLayer(nn.Module):
    def __init__(self, dims: ConformerDims, index: int) -> None:
        super().__init__()
        widths = dims.layer(index)
        self.ffn1 = FeedForward(dims.d_model, widths["ffn"], dims.dropout)
        self.attn = SelfAttention(dims.d_model, widths["heads"], dims.head_size, dims.dropout)
        self.conv = ConvModule(
            dims.d_model, widths["conv_channels"], dims.conv_kernel, dims.dropout
        )
        self.ffn2 = FeedForward(dims.d_model, widths["ffn"], dims.dropout)
        self.norm = nn.LayerNorm(dims.d_model)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, tables: Rotary) -> torch.Tensor:
        x = x + 0.5 * self.ffn1(x)
        x = x + self.attn(x, keep, tables)
        x = x + self.conv(x, keep)
        x = x + 0.5 * self.ffn2(x)
        return self.norm(x)


class Exit(nn.Module):
    """Optional projection to the shared feature size, then a linear map to the vocabulary."""

    def __init__(self, d_model: int, proj_dim: int, vocab: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, proj_dim) if proj_dim else None
        self.out = nn.Linear(proj_dim or d_model, vocab)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.proj(x) if self.proj is not None else x
        return hidden, self.out(hidden).log_softmax(dim=-1)


@dataclass
class ModelOutput:
    log_probs: list[torch.Tensor]  # one (B, T', vocab) per exit that ran, shallow first
    lengths: torch.Tensor  # (B,) valid frames after subsampling
    hidden: list[torch.Tensor]  # top-level features (B, T', feature_dim) per exit


def on_host(output: ModelOutput) -> ModelOutput:
    """Log-probabilities and lengths on the CPU, where decoding runs (no copy on the CPU)."""
    return ModelOutput([lp.cpu() for lp in output.log_probs], output.lengths.cpu(), output.hidden)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any, e.g. a stub)."""
    parameters = getattr(model, "parameters", None)
    first = next(parameters(), None) if parameters is not None else None
    return torch.device("cpu") if first is None else first.device


class ConformerCTC(nn.Module):
    def __init__(self, dims: ConformerDims) -> None:
        super().__init__()
        self.dims = dims
        self.frontend = Subsampling(dims.n_mels, dims.subsampling_channels, dims.d_model)
        self.dropout = nn.Dropout(dims.dropout)
        self.layers = nn.ModuleList(ConformerLayer(dims, i) for i in range(dims.layers))
        self.exits = nn.ModuleList(
            Exit(dims.d_model, dims.proj_dim, dims.vocab) for _ in dims.exits
        )

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor, depth: int | None = None
    ) -> ModelOutput:
        """Run up to exit `depth` (1-based; None = all exits) and return every exit on the way."""
        depth = depth or len(self.dims.exits)
        last_layer = self.dims.layers_for_exit(depth)
        x = self.dropout(self.frontend(feats))
        out_lengths = subsampled_lengths(lengths).clamp(min=1)
        keep = torch.arange(x.shape[1], device=x.device)[None, :] < out_lengths[:, None]
        tables = rotary_tables(x.shape[1], self.dims.head_size, x.device)
        log_probs, hidden = [], []
        exit_after = {layer: e for e, layer in enumerate(self.dims.exits)}
        for index in range(last_layer):
            x = self.layers[index](x, keep, tables)
            if index + 1 in exit_after:
                h, lp = self.exits[exit_after[index + 1]](x)
                hidden.append(h)
                log_probs.append(lp)
        return ModelOutput(log_probs=log_probs, lengths=out_lengths, hidden=hidden)


def build_model(dims: ConformerDims, seed: int | None = None) -> ConformerCTC:
    """Build with a seeded initialization (the same seed gives the same weights everywhere)."""
    if seed is None:
        return ConformerCTC(dims)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return ConformerCTC(dims)
    finally:
        torch.random.set_rng_state(state)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
