#!/usr/bin/env bash
# Every run behind docs/results/fedkad.md, then its tables and plots.
#   bash scripts/fedkad_experiments.sh                  (from the repository root)
#   nohup /work/shared/bin/heavy bash scripts/fedkad_experiments.sh > fedkad.log 2>&1 &
# Seed by seed (so that a stopped grid leaves whole seeds): on the uniform and the skewed mix,
# FedKAD, FedMD, HeteroFL, each tier alone, FedAvg with the S model, FedAvg with the L model;
# FedKAD with best-path alignment on the uniform mix; FedKAD at lambda 0.1 and 1 (first seed). A finished run (its model files exist) is
# kept; an unfinished one is resumed from its checkpoint. Nothing is ever deleted.
# CODE=DIR runs the fedasr found under DIR/src (a snapshot taken when the grid starts, so the
# grid runs one version of the code even while the working tree changes).
set -euo pipefail
OUT=${OUT:-runs/fedkad}
ROUNDS=${ROUNDS:-20}
SEEDS=${SEEDS:-0 1 2}
RESULTS=${RESULTS:-docs/results/fedkad}
PY=${PY:-python}
if [[ -n ${CODE:-} ]]; then export PYTHONPATH="$CODE/src${PYTHONPATH:+:$PYTHONPATH}"; fi
FEDASR=("$PY" -m fedasr)
CORPUS=$OUT/corpus
SKEWED='devices.shares={S: 0.5, M: 0.3, L: 0.2}'
mkdir -p "$OUT"

finished() { compgen -G "$1/model*.safetensors" > /dev/null; }

run() {  # run NAME CONFIG [key=value ...]
  local name=$1 config=$2 dir=$OUT/$1; shift 2
  if finished "$dir"; then return 0; fi
  if [[ -f $dir/config.yaml ]]; then
    /usr/bin/time -f "$name (resumed): %e s" "${FEDASR[@]}" run --resume "$dir" -q
  else
    /usr/bin/time -f "$name: %e s" "${FEDASR[@]}" run "$config" -q name="$name" run_dir="$dir" \
      data.corpus="$CORPUS" data.synth_if_missing=null rounds.total="$ROUNDS" \
      logging.tensorboard=false "$@"
  fi
}

arms() {  # arms MIX SEED [extra key=value ...]
  local mix=$1 seed=$2; shift 2
  local s=(seed="$seed" "$@")
  run "fedkad-$mix-s$seed" configs/fedkad.yaml "${s[@]}"
  run "fedmd-$mix-s$seed" configs/fedmd.yaml "${s[@]}"
  run "heterofl-$mix-s$seed" configs/heterofl.yaml "${s[@]}"
  run "tiers-$mix-s$seed" configs/fedkad.yaml 'algorithm={name: tiers}' "${s[@]}"
  run "fedavgS-$mix-s$seed" configs/fedkad.yaml 'algorithm={name: fedavg}' model.tier=S \
    eval.metric=heldout_wer "${s[@]}"
  run "fedavgL-$mix-s$seed" configs/fedkad.yaml 'algorithm={name: fedavg}' model.tier=L \
    eval.metric=heldout_wer "${s[@]}"
}

# the corpus: 30 training speakers (20 utterances each), 6 held-out, 6 public (12 each)
[[ -f $CORPUS/public.jsonl ]] || "${FEDASR[@]}" data synth --out "$CORPUS" --size small --vocab digits
for seed in $SEEDS; do
  arms uniform "$seed"
  run "fedkadbp-uniform-s$seed" configs/fedkad.yaml algorithm.alignment=best_path seed="$seed"
  arms skewed "$seed" "$SKEWED"
  if [[ $seed == "${SEEDS%% *}" ]]; then  # lambda around the default (0.3), first seed only
    run "fedkadlam0.1-uniform-s$seed" configs/fedkad.yaml algorithm.kd_weight=0.1 seed="$seed"
    run "fedkadlam1-uniform-s$seed" configs/fedkad.yaml algorithm.kd_weight=1.0 seed="$seed"
  fi
done

mkdir -p "$RESULTS"
"$PY" scripts/fedkad_tables.py --out "$RESULTS" "$OUT" > "$RESULTS/tables.md"
"${FEDASR[@]}" report --out "$OUT/report-uniform" --metric L_heldout_wer \
  $(for arm in fedkad fedmd tiers fedkadbp; do ls -d "$OUT/$arm-uniform-s0"; done)
