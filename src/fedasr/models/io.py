"""A self-contained model file: weights, dims, tokenizer, CMVN and feature config in one
safetensors file, so `fedasr eval MODEL MANIFEST` needs nothing else."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from fedasr.data.features import FeatureConfig
from fedasr.data.tokenizer import BPETokenizer, CharTokenizer, Tokenizer, load_tokenizer
from fedasr.errors import FedasrError
from fedasr.fsutil import atomic_path
from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.models.dims import ConformerDims


class ModelFileError(FedasrError):
    """A model file is missing or unreadable; the message names it."""


def export_model(
    path: Path,
    model: ConformerCTC,
    tokenizer: Tokenizer,
    mean: np.ndarray,
    std: np.ndarray,
    features: FeatureConfig,
    extra: dict[str, Any] | None = None,
) -> None:
    metadata = {
        "dims": model.dims.to_dict(),
        "tokenizer": _tokenizer_spec(tokenizer),
        "features": asdict(features),
        **(extra or {}),
    }
    tensors = dict(model.state_dict())
    tensors["_cmvn.mean"] = torch.from_numpy(np.asarray(mean, dtype=np.float32))
    tensors["_cmvn.std"] = torch.from_numpy(np.asarray(std, dtype=np.float32))
    save_model(path, tensors, metadata)


def _tokenizer_spec(tokenizer: Tokenizer) -> dict[str, Any]:
    if isinstance(tokenizer, CharTokenizer):
        return {"kind": "char", "alphabet": tokenizer.alphabet}
    if isinstance(tokenizer, BPETokenizer):
        return {
            "kind": "bpe",
            "model": base64.b64encode(tokenizer.model_path.read_bytes()).decode(),
        }
    raise TypeError(f"cannot export tokenizer {type(tokenizer).__name__}")


def import_model(
    path: Path, tokenizer_dir: Path
) -> tuple[ConformerCTC, Tokenizer, np.ndarray, np.ndarray, FeatureConfig]:
    """Load an exported model; a BPE tokenizer is unpacked into `tokenizer_dir`."""
    tensors, meta = load_model_file(path)
    mean = tensors.pop("_cmvn.mean").numpy()
    std = tensors.pop("_cmvn.std").numpy()
    model = build_model(ConformerDims(**meta["dims"]))
    model.load_state_dict(tensors)
    spec = meta["tokenizer"]
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    if spec["kind"] == "bpe":
        (tokenizer_dir / "tokenizer.model").write_bytes(base64.b64decode(spec["model"]))
        (tokenizer_dir / "tokenizer.json").write_text(json.dumps({"kind": "bpe"}))
    else:
        (tokenizer_dir / "tokenizer.json").write_text(json.dumps(spec))
    return model, load_tokenizer(tokenizer_dir), mean, std, FeatureConfig(**meta["features"])


def save_model(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Written to a temporary file, fsync'd and renamed: a crash leaves the previous file."""
    plain = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata={"fedasr": json.dumps(metadata)})


def load_model_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a model file; ModelFileError names the file when it is
    missing or is not a fedasr model file."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = json.loads((handle.metadata() or {}).get("fedasr", "{}"))
        return load_file(str(path)), metadata
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({err})") from None
