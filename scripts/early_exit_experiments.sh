#!/usr/bin/env bash
# Every run behind docs/results/early_exit.md, then its tables and plots.
#   bash scripts/early_exit_experiments.sh            (from the repository root)
# Each run takes the shared lock /tmp/fedasr-heavy.lock, so it never overlaps another heavy job;
# a run whose model.safetensors exists is skipped, so the script can be re-run after a stop.
set -euo pipefail
OUT=${OUT:-runs/early_exit}
ROUNDS=${ROUNDS:-40}
LOCK="flock /tmp/fedasr-heavy.lock"
SKEWED='devices.shares={low: 0.5, mid: 0.3, high: 0.2}'

fl() {  # fl NAME [key=value ...]
  local name=$1; shift
  [[ -f $OUT/$name/model.safetensors ]] && return 0
  rm -rf "${OUT:?}/$name"
  /usr/bin/time -f "$name: %e s" $LOCK fedasr run configs/early_exit.yaml -q \
    name="$name" run_dir="$OUT/$name" rounds.total="$ROUNDS" eval.every=5 \
    logging.tensorboard=false "$@"
}

central() {  # the centralized baseline, every exit trained on all training speakers
  [[ -f $OUT/central/model.safetensors ]] && return 0
  rm -rf "$OUT/central"
  /usr/bin/time -f "central: %e s" $LOCK fedasr train configs/centralized.yaml -q \
    name=central run_dir="$OUT/central" logging.tensorboard=false
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
