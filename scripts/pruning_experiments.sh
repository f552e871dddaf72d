#!/usr/bin/env bash
# Every run behind docs/results/pruning.md, then its tables, plots and the memory benchmark.
#   bash scripts/pruning_experiments.sh CORPUS [OUT]      (from the repository root)
# CORPUS: a corpus built by `fedasr data synth --size small --vocab digits` (30 speakers).
# The grid runs from a snapshot of the committed HEAD (`git archive` into OUT/code), so edits
# made while it waits in a queue or runs do not change it; the commit is in OUT/commit.
# A run whose model.safetensors exists is reused; an interrupted one is resumed.
# What runs (env): ARMS (default the headline: dense FedAvg, client-Taylor pruning, magnitude
# pruning, centralized pruning), SEEDS (default 0), ROUNDS (default 30: 8 dense rounds, pruning
# [8, 15), refining [15, 22), fine-tuning after; a centralized arm trains centrally, prunes
# once and fine-tunes for ROUNDS - 8 rounds: central-50 after 10 epochs, central-equal-50 after
# 2, about the examples the FL arms' clients saw before pruning), BUDGET_S (default 1800: no run starts once the
# grid's elapsed time plus the longest run so far would pass it). Every arm of one seed runs
# before the next seed; the memory benchmark runs first. The other arms of
# docs/results/pruning.md: ARMS="column-25 column-75 row-50 half-50 step-50 adaptive-50
# norefine-50 central-equal-50 tiers". Sizing (2 cores, ~9 s a round, ~20 s with evaluation): ~4-5 min a 30-round
# run, ~4 min the centralized training, ~1-2 min the memory benchmark: ~20-25 min the default.
# bench_overhead is not run here (the lead compares all merged branches in one sitting).
set -euo pipefail
CORPUS=$(realpath "${1:?usage: scripts/pruning_experiments.sh CORPUS [OUT]}")
OUT=$(realpath -m "${2:-runs/pruning}")
PY=${PY:-$(pwd)/.venv/bin/python}
mkdir -p "$OUT"
if [[ -z ${PRUNING_SNAPSHOT:-} ]]; then  # first pass: snapshot HEAD and run the snapshot's copy
  commit=$(git rev-parse HEAD)
  code="$OUT/code-${commit:0:12}"
  if [[ ! -d $code ]]; then
    mkdir -p "$code.tmp" && git archive "$commit" | tar -x -C "$code.tmp" && mv "$code.tmp" "$code"
  fi
  echo "$commit" > "$OUT/commit"
  cd "$code"
  PRUNING_SNAPSHOT=$code PY=$PY exec bash scripts/pruning_experiments.sh "$CORPUS" "$OUT"
fi
export PYTHONPATH=$PRUNING_SNAPSHOT/src
"$PY" -c 'import fedasr, sys; print("fedasr from", fedasr.__file__, file=sys.stderr)'
SEEDS=${SEEDS:-0}
ARMS=${ARMS:-dense taylor-50 central-50 column-50}
ROUNDS=${ROUNDS:-30}
BUDGET_S=${BUDGET_S:-1800}
PRUNE_START=8  # rounds of dense FedAvg before the first pruning round
# EXTRA: key=value overrides for every run, CENTRAL_ARGS for the centralized training, MEMORY_ARGS
# for the memory benchmark (a smoke test of this script on a tiny budget)
read -r -a EXTRA <<< "${EXTRA:-}"
COMMON=(data.corpus="$CORPUS" data.synth_if_missing=null logging.tensorboard=false "${EXTRA[@]}")
FL=(rounds.total="$ROUNDS" rounds.clients_per_round=4 rounds.min_clients=2 eval.every=5)
PHASES="algorithm.phases={prune: [$PRUNE_START, 15], refine: [15, 22]}"
{ echo "commit $(cat "$OUT/commit")"; echo "ARMS=$ARMS SEEDS=$SEEDS ROUNDS=$ROUNDS"
  echo "BUDGET_S=$BUDGET_S EXTRA=${EXTRA[*]:-}"; } > "$OUT/grid.txt"
longest=0

within_budget() {  # NAME: may a run start now?
  if (( SECONDS + longest > BUDGET_S )); then
    echo "$1: skipped ($SECONDS s elapsed, longest run $longest s, budget $BUDGET_S s)" \
      | tee -a "$OUT/skipped.log" >&2
    return 1
  fi
}

timed() {  # NAME CMD...: run CMD, log its time, remember the longest
  local name=$1 started=$SECONDS; shift
  echo "== $name $(date -u +%H:%M:%S)" >&2
  "$@"
  local took=$((SECONDS - started))
  echo "$name: $took s" >> "$OUT/times.log"
  (( took > longest )) && longest=$took
  return 0
}

run() {  # run NAME CONFIG [key=value ...]
  local name=$1 config=$2; shift 2
  local dir=$OUT/$name
  [[ -f $dir/model.safetensors ]] && return 0
  within_budget "$name" || return 0
  if [[ -d $dir/checkpoints ]]; then
    timed "$name" "$PY" -m fedasr run -q --resume "$dir"
  else
    timed "$name" "$PY" -m fedasr run "$config" -q name="$name" run_dir="$dir" "${COMMON[@]}" "$@"
  fi
}

central() {  # central SEED [equal]: the centrally trained model a centralized arm starts from;
  # "equal" trains 2 epochs: about the client examples of the PRUNE_START dense FL rounds
  # (8 rounds x 4 clients x 2 local epochs x 20 utterances = 1,280; the corpus has 600)
  local name=central-s$1 epochs=(central.epochs=10)
  [[ ${2:-} == equal ]] && name=central-equal-s$1 epochs=(central.epochs=2)
  local dir=$OUT/$name
  [[ -f $dir/model.safetensors ]] && return 0
  within_budget "$name" || return 1
  timed "$name" "$PY" -m fedasr train configs/centralized.yaml -q name="$name" \
    run_dir="$dir" seed="$1" "${COMMON[@]}" client.batch_seconds=15 "${epochs[@]}" \
    central.time_budget_min=4 ${CENTRAL_ARGS:-}
}

arm() {  # arm ARM SEED
  local seed=$2 P=configs/pruning.yaml
  local S=(seed="$seed") R=("${FL[@]}" "$PHASES")
  case $1 in
    dense) run "dense-s$seed" configs/fedavg.yaml "${S[@]}" "${FL[@]}" client.local_epochs=2 \
             client.batch_seconds=5 ;;
    column-25|column-50|column-75) run "$1-s$seed" $P "${S[@]}" "${R[@]}" \
             algorithm.sparsity=0.${1#column-} ;;
    row-50) run "row-50-s$seed" $P "${S[@]}" "${R[@]}" algorithm.pattern=row ;;
    half-50) run "half-50-s$seed" $P "${S[@]}" "${R[@]}" algorithm.pattern=half ;;
    step-50) run "step-50-s$seed" $P "${S[@]}" "${R[@]}" \
             'algorithm.schedule={kind: step, delta: 0.125, every: 2}' ;;
    adaptive-50) run "adaptive-50-s$seed" $P "${S[@]}" "${R[@]}" algorithm.allocation=adaptive ;;
    norefine-50) run "norefine-50-s$seed" $P "${S[@]}" "${FL[@]}" \
             "algorithm.phases={prune: [$PRUNE_START, 15], refine: null}" ;;
    taylor-50) run "taylor-50-s$seed" $P "${S[@]}" "${R[@]}" algorithm.score=taylor ;;
    central-50|central-equal-50)
           local kind=${1%-50} equal=()
           [[ $1 == central-equal-50 ]] && equal=(equal)
           central "$seed" "${equal[@]}" && run "$1-s$seed" $P "${S[@]}" "${FL[@]}" \
             model.init_from="$OUT/${kind}-s$seed/model.safetensors" \
             'algorithm.phases={prune: [0, 1], refine: null}' \
             rounds.total=$((ROUNDS - PRUNE_START)) ;;
    tiers) [[ $seed == 0 ]] && run "tiers-s0" configs/pruning_tiers.yaml "${S[@]}" ;;
    *) echo "unknown arm $1" >&2; exit 2 ;;
  esac
  return 0
}

memory() {  # the memory benchmark: a client step's peak memory and time per sparsity
  [[ -f $OUT/memory.json ]] && return 0
  within_budget memory || return 0
  timed memory "$PY" benchmarks/bench_pruning_memory.py --corpus "$CORPUS" \
    --json "$OUT/memory.json" ${MEMORY_ARGS:-} > "$OUT/memory.md" \
    || echo "memory benchmark failed" >&2
}

memory  # first: short, and a headline
for seed in $SEEDS; do
  for a in $ARMS; do arm "$a" "$seed"; done
done
"$PY" scripts/pruning_tables.py "$OUT" --seeds $SEEDS --plots "$OUT/plots" > "$OUT/tables.md"
echo "tables: $OUT/tables.md" >&2
