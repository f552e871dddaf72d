#!/usr/bin/env bash
# Every run behind docs/results/early_exit.md, then its tables and plots.
#   bash scripts/early_exit_experiments.sh     (runs from the repository root, wherever called)
# Environment: OUT (default runs/early_exit), ROUNDS (40), TARGET (held-out WER of the
# time-to-target table, 0.6), QUEUE (below).
# A run whose model.safetensors exists is skipped, so the script can be re-run after a stop.
# On a shared machine, QUEUE is a command that runs its arguments in turn with other heavy jobs
# (the machine's job queue, or e.g. QUEUE="flock PATH" for a lock file); each run goes through
# it, so other jobs interleave between runs. Empty (the default): runs start directly.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/early_exit}
ROUNDS=${ROUNDS:-40}
QUEUE=${QUEUE:-}
mkdir -p "$OUT"
SKEWED='devices.shares={low: 0.5, mid: 0.3, high: 0.2}'

fl() {  # fl NAME [key=value ...]
  local name=$1; shift
  [[ -f $OUT/$name/model.safetensors ]] && return 0
  rm -rf "${OUT:?}/$name"
  local started=$SECONDS
  $QUEUE fedasr run configs/early_exit.yaml -q \
    name="$name" run_dir="$OUT/$name" rounds.total="$ROUNDS" eval.every=5 \
    logging.tensorboard=false "$@"
  echo "$name: $((SECONDS - started)) s"
}

central() {  # the centralized baseline, every exit trained on all training speakers
  [[ -f $OUT/central/model.safetensors ]] && return 0
  rm -rf "$OUT/central"
  local started=$SECONDS
  $QUEUE fedasr train configs/centralized.yaml -q \
    name=central run_dir="$OUT/central" logging.tensorboard=false
  echo "central: $((SECONDS - started)) s"
}

fl ee-uniform                                           # mixed depths, FedAvg (the method)
fl homog-uniform devices.depth=full                     # every client trains all 6 layers
fl fullonly-uniform 'devices.participate=[high]'        # only full-depth devices take part
central
fl tier-low 'devices.participate=[low]'                 # one model per tier: low (exit 1)
fl tier-mid 'devices.participate=[mid]'                 # one model per tier: mid (exits 1-2)
fl ee-uniform-frozen algorithm.freeze_frontend=true     # front-end frozen at its init
fl ee-skewed "$SKEWED"                                  # 15 low / 9 mid / 6 high clients
fl fullonly-skewed "$SKEWED" 'devices.participate=[high]'
fl ee-uniform-overselect rounds.clients_per_round=10 devices.clock.keep_first=8
fl ee-uniform-fedadam server.optimizer=adam server.lr=0.01   # the paper's server optimizer
fl homog-uniform-fedadam devices.depth=full server.optimizer=adam server.lr=0.01

have() {  # the given run directories that hold a finished run (tables and plots skip the rest)
  local dir
  for dir in "$@"; do [[ -f $dir/model.safetensors ]] && echo "$dir"; done
  return 0
}
ALL=(ee-uniform homog-uniform fullonly-uniform tier-low tier-mid ee-uniform-frozen
  ee-uniform-overselect ee-uniform-fedadam homog-uniform-fedadam ee-skewed fullonly-skewed central)
python scripts/early_exit_tables.py --target "${TARGET:-0.6}" "${ALL[@]/#/$OUT/}" > "$OUT/tables.md"
# shellcheck disable=SC2046
fedasr report --out "$OUT/report-uniform" $(have "$OUT"/ee-uniform "$OUT"/homog-uniform \
  "$OUT"/fullonly-uniform "$OUT"/ee-uniform-overselect "$OUT"/central)
# shellcheck disable=SC2046
fedasr report --out "$OUT/report-skewed" $(have "$OUT"/ee-skewed "$OUT"/fullonly-skewed "$OUT"/central)
# shellcheck disable=SC2046
fedasr report --out "$OUT/report-variants" $(have "$OUT"/ee-uniform "$OUT"/ee-uniform-frozen \
  "$OUT"/ee-uniform-fedadam "$OUT"/homog-uniform "$OUT"/homog-uniform-fedadam)
