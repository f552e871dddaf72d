"""Final-weight fingerprints of short runs of every shipped config, to show a refactor changed
no result: run it before and after, then compare.

    python benchmarks/weights_fingerprint.py --corpus CORPUS --out OUT_DIR --json before.json
    python benchmarks/weights_fingerprint.py --corpus CORPUS --out OUT_DIR2 --json after.json \
        --compare before.json

Each arm is a shipped config (configs/*.yaml) cut short — a few rounds on CORPUS, small
cohorts, an evaluation every round so stall decay, fall-back and early stopping get exercised —
and run through the CLI exactly as a user runs it. The fingerprint is a SHA-256 over every
tensor of the exported model.safetensors (names, dtypes, shapes and bytes; the metadata, which
holds the run directory, is left out). With --compare, a Markdown table says for each arm
whether the weights are bit-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
SHORT = [
    "data.synth_if_missing=null",
    "rounds.total=4",
    "rounds.clients_per_round=4",
    "rounds.min_clients=1",
    "eval.every=1",
    "eval.max_utterances=20",
    "executor.kind=serial",
    "logging.tensorboard=false",
    "logging.progress=false",
]
REPLAY = "server.replay={steps: 2, max_utterances: 20, trainable: [layers.0., exits.]}"
# (arm, CLI command, config, extra overrides)
ARMS: list[tuple[str, str, str, list[str]]] = [
    ("fedavg", "run", "configs/fedavg.yaml", []),
    (
        "fedavg-process",
        "run",
        "configs/fedavg.yaml",
        ["executor.kind=process", "executor.workers=2"],
    ),
    ("fedadam", "run", "configs/fedadam.yaml", []),
    ("fedprox", "run", "configs/fedprox.yaml", []),
    ("dga", "run", "configs/dga.yaml", []),
    ("early_exit", "run", "configs/early_exit.yaml", []),
    ("early_exit-frozen", "run", "configs/early_exit.yaml", ["algorithm.freeze_frontend=true"]),
    ("semi_supervised", "run", "configs/semi_supervised.yaml", []),
    ("replay", "run", "configs/fedavg.yaml", [REPLAY]),
    ("smoke", "run", "configs/smoke.yaml", []),
    ("demo-fedavg", "run", "src/fedasr/demo/configs/fedavg.yaml", ["rounds.total=3"]),
    ("demo-dga", "run", "src/fedasr/demo/configs/dga_corrupted.yaml", ["rounds.total=3"]),
    ("centralized", "train", "configs/centralized.yaml", ["central.epochs=2"]),
]


def fingerprint(model_file: Path) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(load_file(str(model_file)).items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_arm(arm: str, command: str, config: str, extra: list[str], corpus: Path, out: Path) -> str:
    run_dir = out / arm
    overrides = [f"data.corpus={corpus}", f"run_dir={run_dir}", *SHORT, *extra]
    if command == "train":  # the centralized trainer has no rounds or executor
        overrides = [o for o in overrides if not o.startswith(("rounds.", "executor."))]
        overrides.append("central.time_budget_min=null")
    cmd = [sys.executable, "-m", "fedasr", command, str(REPO / config), *overrides, "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{arm}: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return fingerprint(run_dir / "model.safetensors")


def compare(before: dict[str, str], after: dict[str, str]) -> str:
    rows = ["| arm | before | after | bit-identical |", "| --- | --- | --- | --- |"]
    for arm, digest in after.items():
        old = before.get(arm, "—")
        same = "yes" if old == digest else "**no**"
        rows.append(f"| {arm} | `{old[:12]}` | `{digest[:12]}` | {same} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a built corpus directory")
    parser.add_argument("--out", type=Path, required=True, help="where the short runs go")
    parser.add_argument("--json", type=Path, required=True, help="fingerprints written here")
    parser.add_argument("--compare", type=Path, help="fingerprints of an earlier version")
    parser.add_argument("--only", nargs="*", help="run only these arms")
    args = parser.parse_args()
    result: dict[str, str] = {}
    for arm, command, config, extra in ARMS:
        if args.only and arm not in args.only:
            continue
        result[arm] = run_arm(arm, command, config, extra, args.corpus.resolve(), args.out)
        print(f"{arm}: {result[arm]}", flush=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.compare:
        table = compare(json.loads(args.compare.read_text()), result)
        print(table)
        if "**no**" in table:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
