"""CTC prefix beam search with an optional KenLM word n-gram, via pyctcdecode.

This is the optional `lm` extra (`pip install -e '.[lm]'`): pyctcdecode pins numpy<2, so it
stays out of the core install and is imported only when a beam decoder is built. The decoder's
labels come from our tokenizer: id 0 (blank) is "", the character tokenizer's word separator
"|" is a space, and a BPE tokenizer's SentencePiece pieces keep their "▁" word markers.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from fedasr.data.tokenizer import BLANK, WORD_SEP, BPETokenizer, CharTokenizer, Tokenizer
from fedasr.errors import ConfigError, MissingExtraError

DEFAULT_WIDTH = 32
# pyctcdecode logs its alphabet detection at INFO on every build; keep its warnings only
logging.getLogger("pyctcdecode").setLevel(logging.WARNING)


@dataclass(frozen=True)
class BeamConfig:
    width: int = DEFAULT_WIDTH
    lm: Path | None = None  # an ARPA (or KenLM binary) word n-gram; None = no LM
    alpha: float = 0.5  # LM weight in shallow fusion
    beta: float = 1.0  # bonus per word, offsets the LM's preference for short outputs

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ConfigError(f"--beam: got {self.width}; the beam width must be at least 1")
        if self.lm is not None and not Path(self.lm).is_file():
            raise ConfigError(f"--lm: {self.lm} does not exist (write one with `fedasr data lm`)")


def _require(module: str, feature: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(feature, "lm", module) from err


def ctc_labels(tokenizer: Tokenizer) -> list[str]:
    """One label per output id, in id order, as pyctcdecode expects them."""
    if isinstance(tokenizer, CharTokenizer):
        symbols = [" " if s == WORD_SEP else s for s in tokenizer.symbols]
    elif isinstance(tokenizer, BPETokenizer):
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor(model_file=str(tokenizer.model_path))
        symbols = ["<blank>", *(processor.id_to_piece(i) for i in range(processor.piece_size()))]
    else:
        raise TypeError(f"no beam-search labels for tokenizer {type(tokenizer).__name__}")
    symbols[BLANK] = ""
    return symbols


class BeamDecoder:
    """Callable like greedy decoding: (log_probs (B, T, V), lengths (B,)) -> texts."""

    def __init__(self, tokenizer: Tokenizer, config: BeamConfig | None = None) -> None:
        self.config = config or BeamConfig()
        pyctcdecode = _require("pyctcdecode", "beam search")
        if self.config.lm is not None:
            _require("kenlm", "beam search with a language model")
        self._decoder: Any = pyctcdecode.build_ctcdecoder(
            ctc_labels(tokenizer),
            kenlm_model_path=None if self.config.lm is None else str(self.config.lm),
            alpha=self.config.alpha,
            beta=self.config.beta,
        )

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        frames = log_probs.detach().float().cpu().numpy()
        return [
            str(self._decoder.decode(frames[i, :length], beam_width=self.config.width)).strip()
            for i, length in enumerate(lengths.tolist())
        ]

    def describe(self) -> str:
        lm = "" if self.config.lm is None else f" + LM {Path(self.config.lm).name}"
        weights = f" (alpha {self.config.alpha}, beta {self.config.beta})" if lm else ""
        return f"beam {self.config.width}{lm}{weights}"
