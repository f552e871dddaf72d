"""Hand-made CTC outputs: log-probs that put almost all mass on a chosen path."""

from __future__ import annotations

import torch

from fedasr.data.tokenizer import CharTokenizer

CHARS = CharTokenizer()
_ = 0  # blank


def ids(text: str) -> list[int]:
    """Character ids of `text`, spaces as the word separator."""
    return CHARS.encode(text)


def peaked(
    paths: list[list[int]], vocab: int = CHARS.vocab_size, peak: float = 0.9
) -> torch.Tensor:
    """(B, T, V) log-probs, `peak` on each frame's path symbol, the rest spread evenly;
    shorter paths are padded with frames that favour symbol 2 ('a'), which a decoder that
    ignores the lengths would emit."""
    frames = max(len(p) for p in paths)
    probs = torch.full((len(paths), frames, vocab), (1 - peak) / (vocab - 1))
    for b, path in enumerate(paths):
        for t in range(frames):
            probs[b, t, path[t] if t < len(path) else 2] = peak
    return probs.log()


def lengths_of(paths: list[list[int]]) -> torch.Tensor:
    return torch.tensor([len(p) for p in paths])
