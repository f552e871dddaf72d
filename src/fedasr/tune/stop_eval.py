"""Evaluate a run where a tuner stopped it between evaluations (its budget was spent).

The loop evaluates every `eval.every` rounds; a run stopped by its `on_round` observer at
another round still exports its final model, and this scores that model exactly as the loop's
own evaluator would (same splits, same utterance cap, same decoding). The record is kept in
RUN/stop_eval.json (written atomically), beside the untouched metrics.jsonl.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fedasr.config import ExperimentConfig
from fedasr.data.bundle import load_data
from fedasr.engine.evaluation import ServerEvaluator
from fedasr.models.factory import model_dims
from fedasr.models.io import load_model_file

STOP_EVAL = "stop_eval.json"


def evaluate_final_model(config: ExperimentConfig, round_: int) -> dict[str, Any]:
    """{split}_wer, {split}_cer, ... of RUN/model.safetensors, saved to RUN/stop_eval.json."""
    run_dir = config.resolved_run_dir()
    saved = run_dir / STOP_EVAL
    if saved.is_file():  # a resumed tuner does not score the same model twice
        record: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
        if record.get("round") == round_:
            return record
    bundle = load_data(config.data, run_dir / "tokenizer", progress=False)
    dims = model_dims(config.model, bundle.tokenizer.vocab_size, config.data.features.n_mels)
    evaluator = ServerEvaluator(dims, bundle, config.eval, config.executor.device)
    state, _ = load_model_file(run_dir / "model.safetensors")
    evaluator.model.load_state_dict({k: v for k, v in state.items() if not k.startswith("_")})
    record, _ = evaluator.evaluate(evaluator.flat_model.flat.clone())
    record = {"round": round_, **record}
    _write_atomically(saved, json.dumps(record, indent=1))
    return record


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
