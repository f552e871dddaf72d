#!/usr/bin/env bash
# Every run behind docs/results/fedkad.md, then its tables and plots.
#   bash scripts/fedkad_experiments.sh                  (from the repository root)
#   nohup bash scripts/fedkad_experiments.sh > fedkad.log 2>&1 &   (through the machine's
#                                                   heavy-job queue where it is shared)
# Seed by seed (so that a stopped grid leaves whole seeds): on the uniform and the skewed mix,
# FedKAD, FedMD, HeteroFL, each tier alone, FedAvg with the S model, FedAvg with the L model;
# FedKAD with best-path alignment on the uniform mix; FedKAD at lambda 0.1 and 1 (first seed);
# FedMD with its transfer-learning phase on the uniform mix.
# A finished run (its model files exist) is kept; an unfinished one is resumed from its
# checkpoint. Nothing is ever deleted.
# Smaller grids, in priority order (every arm of a seed before the next seed):
#   ARMS="fedkad fedmd ..."  which arms, in this order (default: all of the above)
#   MIXES="uniform"          which mixes (default: uniform skewed)
#   BUDGET_S=1800            start no run that would likely end after BUDGET_S seconds of the
#                            grid (the estimate: the longest run so far); skipped runs are listed
# CODE=DIR runs the fedasr found under DIR/src (a snapshot taken when the grid starts, so the
# grid runs one version of the code even while the working tree changes).
set -euo pipefail
OUT=${OUT:-runs/fedkad}
ROUNDS=${ROUNDS:-20}
SEEDS=${SEEDS:-0 1 2}
ARMS=${ARMS:-fedkad fedmd heterofl tiers fedavgS fedavgL fedkadbp fedkadlam0.1 fedkadlam1 fedmdtl}
MIXES=${MIXES:-uniform skewed}
BUDGET_S=${BUDGET_S:-0}
RESULTS=${RESULTS:-docs/results/fedkad}
PY=${PY:-python}
if [[ -n ${CODE:-} ]]; then export PYTHONPATH="$CODE/src${PYTHONPATH:+:$PYTHONPATH}"; fi
FEDASR=("$PY" -m fedasr)
CORPUS=$OUT/corpus
SKEWED='devices.shares={S: 0.5, M: 0.3, L: 0.2}'
mkdir -p "$OUT"

finished() { compgen -G "$1/model*.safetensors" > /dev/null; }

GRID_START=$SECONDS
LONGEST=0
over_budget() {  # would a run as long as the longest so far end past BUDGET_S?
  (( BUDGET_S > 0 && SECONDS - GRID_START + LONGEST > BUDGET_S ))
}

run() {  # run NAME CONFIG [key=value ...]
  local name=$1 config=$2 dir=$OUT/$1 started=$SECONDS; shift 2
  if finished "$dir"; then return 0; fi
  if over_budget; then
    echo "$name: not started (budget ${BUDGET_S} s; $((SECONDS - GRID_START)) s spent)"
    return 0
  fi
  if [[ -f $dir/config.yaml ]]; then
    name="$name (resumed)"
    "${FEDASR[@]}" run --resume "$dir" -q || echo "$name: failed (exit $?)"
  else
    "${FEDASR[@]}" run "$config" -q name="$name" run_dir="$dir" \
      data.corpus="$CORPUS" data.synth_if_missing=null rounds.total="$ROUNDS" \
      logging.tensorboard=false "$@" || echo "$name: failed (exit $?)"  # the grid goes on
  fi
  echo "$name: $((SECONDS - started)) s"
  (( SECONDS - started > LONGEST )) && LONGEST=$((SECONDS - started))
  return 0
}

wanted() { [[ " $ARMS " == *" $1 "* ]]; }

arm() {  # arm ARM MIX SEED [extra key=value ...]
  local arm=$1 mix=$2 seed=$3; shift 3
  local name=$arm-$mix-s$seed s=(seed="$seed" "$@")
  wanted "$arm" || return 0
  case $arm in
    fedkad) run "$name" configs/fedkad.yaml "${s[@]}" ;;
    fedmd) run "$name" configs/fedmd.yaml "${s[@]}" ;;
    fedmdtl)  # FedMD with its transfer-learning phase (round 0: 3 CTC epochs on the public set)
      [[ $mix == uniform ]] && run "$name" configs/fedmd.yaml algorithm.transfer_epochs=3 \
        "${s[@]}" ;;
    heterofl) run "$name" configs/heterofl.yaml "${s[@]}" ;;
    tiers) run "$name" configs/fedkad.yaml 'algorithm={name: tiers}' "${s[@]}" ;;
    fedavgS | fedavgL)
      run "$name" configs/fedkad.yaml 'algorithm={name: fedavg}' "model.tier=${arm#fedavg}" \
        eval.metric=heldout_wer "${s[@]}" ;;
    fedkadbp)  # best-path alignment: uniform mix only
      [[ $mix == uniform ]] && run "$name" configs/fedkad.yaml algorithm.alignment=best_path \
        "${s[@]}" ;;
    fedkadlam0.1 | fedkadlam1)  # lambda around the default (0.3): first seed, uniform mix only
      [[ $mix == uniform && $seed == "${SEEDS%% *}" ]] && \
        run "$name" configs/fedkad.yaml "algorithm.kd_weight=${arm#fedkadlam}" "${s[@]}" ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  return 0
}

# the corpus: 30 training speakers (20 utterances each), 6 held-out, 6 public (12 each)
[[ -f $CORPUS/public.jsonl ]] || "${FEDASR[@]}" data synth --out "$CORPUS" --size small --vocab digits
for seed in $SEEDS; do
  for mix in $MIXES; do
    extra=()
    [[ $mix == skewed ]] && extra=("$SKEWED")
    for a in $ARMS; do arm "$a" "$mix" "$seed" "${extra[@]}"; done
  done
done
echo "grid: $((SECONDS - GRID_START)) s"

mkdir -p "$RESULTS"
"$PY" scripts/fedkad_tables.py --out "$RESULTS" "$OUT" > "$RESULTS/tables.md"
report=()
for a in fedkad fedmd tiers fedkadbp; do
  if finished "$OUT/$a-uniform-s0"; then report+=("$OUT/$a-uniform-s0"); fi
done
if (( ${#report[@]} )); then
  "${FEDASR[@]}" report --out "$OUT/report-uniform" --metric L_heldout_wer "${report[@]}"
fi
