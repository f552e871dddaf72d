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

fl ee-uniform-fedadam                                   # mixed depths, FedAdam (the method)
fl ee-uniform-fedavg server.optimizer=sgd server.lr=1.0 # mixed depths, FedAvg
fl homog-uniform-fedadam devices.depth=full             # every client trains all 6 layers
fl fullonly-uniform-fedadam 'devices.participate=[high]' # only full-depth devices take part
fl tier-low-fedadam 'devices.participate=[low]'         # one model per tier: low (exit 1)
fl tier-mid-fedadam 'devices.participate=[mid]'         # one model per tier: mid (exits 1-2)
fl ee-uniform-fedadam-frozen algorithm.freeze_frontend=true
fl ee-skewed-fedadam "$SKEWED"
fl fullonly-skewed-fedadam "$SKEWED" 'devices.participate=[high]'
fl ee-uniform-fedadam-overselect rounds.clients_per_round=10 devices.clock.keep_first=8
fl homog-uniform-fedavg devices.depth=full server.optimizer=sgd server.lr=1.0

if [[ ! -f $OUT/central/model.safetensors ]]; then
  rm -rf "$OUT/central"
  /usr/bin/time -f "central: %e s" $LOCK fedasr train configs/centralized.yaml -q \
    name=central run_dir="$OUT/central" logging.tensorboard=false
fi

python scripts/early_exit_tables.py --target "${TARGET:-0.6}" \
  "$OUT"/ee-uniform-fedadam "$OUT"/ee-uniform-fedavg "$OUT"/homog-uniform-fedadam \
  "$OUT"/homog-uniform-fedavg "$OUT"/fullonly-uniform-fedadam "$OUT"/tier-low-fedadam \
  "$OUT"/tier-mid-fedadam "$OUT"/ee-uniform-fedadam-frozen "$OUT"/ee-skewed-fedadam \
  "$OUT"/fullonly-skewed-fedadam "$OUT"/ee-uniform-fedadam-overselect "$OUT"/central \
  > "$OUT/tables.md"
fedasr report --out "$OUT/report-uniform" "$OUT"/ee-uniform-fedadam "$OUT"/homog-uniform-fedadam \
  "$OUT"/fullonly-uniform-fedadam "$OUT"/ee-uniform-fedadam-overselect "$OUT"/central
fedasr report --out "$OUT/report-skewed" "$OUT"/ee-skewed-fedadam "$OUT"/fullonly-skewed-fedadam \
  "$OUT"/central
fedasr report --out "$OUT/report-variants" "$OUT"/ee-uniform-fedadam "$OUT"/ee-uniform-fedavg \
  "$OUT"/ee-uniform-fedadam-frozen "$OUT"/homog-uniform-fedavg
