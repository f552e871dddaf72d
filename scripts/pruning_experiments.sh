#!/usr/bin/env bash
# Every run behind docs/results/pruning.md, then its tables, plots and the memory benchmark.
#   bash scripts/pruning_experiments.sh CORPUS [OUT]      (from the repository root)
# CORPUS: a corpus built by `fedasr data synth --size small --vocab digits` (30 speakers).
# The grid runs from a snapshot of the committed HEAD (`git archive` into OUT/code), so edits
# made while it waits in a queue or runs do not change it; the commit is in OUT/commit.
# A run whose model.safetensors exists is reused; an interrupted one is resumed.
# Sizing (2 cores): 37 FL runs of 40 rounds (4 clients x 2 local epochs of 5-s batches, ~2-3 s a
# round unloaded) plus 8 evaluations, ~2 min each, 3 centralized trainings (~1 min), then the
# memory benchmark (~1 min) and bench_overhead before/after (~8 min): ~1.5-2 h. Seed 0 of every
# arm runs first, then seeds 1 and 2, so a cut-short grid still has every arm once.
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
  base=$(git merge-base "$commit" main)  # the engine before this branch: bench_overhead's "before"
  if [[ ! -d $OUT/code-base-${base:0:12} ]]; then
    mkdir -p "$OUT/base.tmp" && git archive "$base" | tar -x -C "$OUT/base.tmp"
    mv "$OUT/base.tmp" "$OUT/code-base-${base:0:12}"
  fi
  echo "$base" > "$OUT/base-commit"
  cd "$code"
  PRUNING_SNAPSHOT=$code PY=$PY exec bash scripts/pruning_experiments.sh "$CORPUS" "$OUT"
fi
export PYTHONPATH=$PRUNING_SNAPSHOT/src
"$PY" -c 'import fedasr, sys; print("fedasr from", fedasr.__file__, file=sys.stderr)'
SEEDS=${SEEDS:-0 1 2}
# EXTRA: key=value overrides for every run (a smoke test of this script on a tiny model)
read -r -a EXTRA <<< "${EXTRA:-}"
COMMON=(data.corpus="$CORPUS" data.synth_if_missing=null logging.tensorboard=false "${EXTRA[@]}")

run() {  # run NAME CONFIG [key=value ...]
  local name=$1 config=$2; shift 2
  local dir=$OUT/$name
  [[ -f $dir/model.safetensors ]] && return 0
  local resume=()
  [[ -d $dir/checkpoints ]] && resume=(--resume "$dir")
  echo "== $name $(date -u +%H:%M:%S)" >&2
  local started=$SECONDS
  if [[ ${#resume[@]} -gt 0 ]]; then
    "$PY" -m fedasr run -q "${resume[@]}"
  else
    "$PY" -m fedasr run "$config" -q name="$name" run_dir="$dir" "${COMMON[@]}" "$@"
  fi
  echo "$name: $((SECONDS - started)) s" >> "$OUT/times.log"
}

central() {  # central SEED: the centrally trained model the centralized-pruning arm starts from
  local dir=$OUT/central-s$1
  [[ -f $dir/model.safetensors ]] && return 0
  echo "== central-s$1 $(date -u +%H:%M:%S)" >&2
  local started=$SECONDS
  "$PY" -m fedasr train configs/centralized.yaml -q name="central-s$1" run_dir="$dir" \
    seed="$1" "${COMMON[@]}" client.batch_seconds=15 central.epochs=10 central.time_budget_min=10
  echo "central-s$1: $((SECONDS - started)) s" >> "$OUT/times.log"
}

P=configs/pruning.yaml
for seed in $SEEDS; do
  S=(seed="$seed")
  run "dense-s$seed" configs/fedavg.yaml "${S[@]}" rounds.total=40 rounds.clients_per_round=4 \
    rounds.min_clients=2 client.local_epochs=2 client.batch_seconds=5 eval.every=5
  for sp in 25 50 75; do
    run "column-$sp-s$seed" $P "${S[@]}" algorithm.sparsity=0.$sp
  done
  run "row-50-s$seed" $P "${S[@]}" algorithm.pattern=row
  run "half-50-s$seed" $P "${S[@]}" algorithm.pattern=half
  run "step-50-s$seed" $P "${S[@]}" 'algorithm.schedule={kind: step, delta: 0.125, every: 2}'
  run "adaptive-50-s$seed" $P "${S[@]}" algorithm.allocation=adaptive
  run "norefine-50-s$seed" $P "${S[@]}" algorithm.phases.refine=null
  run "taylor-50-s$seed" $P "${S[@]}" algorithm.score=taylor
  central "$seed"
  run "central-50-s$seed" $P "${S[@]}" model.init_from="$OUT/central-s$seed/model.safetensors" \
    'algorithm.phases={prune: [0, 1], refine: null}' rounds.total=30
  if [[ $seed == 0 ]]; then  # per-device sparsity with early exits, one config
    run "tiers-s0" configs/pruning_tiers.yaml "${S[@]}"
  fi
done

"$PY" benchmarks/bench_pruning_memory.py --corpus "$CORPUS" --json "$OUT/memory.json" \
  ${MEMORY_ARGS:-} > "$OUT/memory.md" || echo "memory benchmark failed" >&2
# engine overhead before (merge base with main) and after (this snapshot), one sitting
BASE=$OUT/code-base-$(head -c 12 "$OUT/base-commit")
for side in before after; do
  code=$PRUNING_SNAPSHOT
  [[ $side == before ]] && code=$BASE
  [[ -f $OUT/overhead-$side.md ]] && continue
  (cd "$code" && PYTHONPATH=$code/src "$PY" -m benchmarks.bench_overhead --corpus "$CORPUS" \
    --runs 3 ${OVERHEAD_ARGS:-} > "$OUT/overhead-$side.md.tmp" \
    && mv "$OUT/overhead-$side.md.tmp" "$OUT/overhead-$side.md") || echo "overhead $side failed" >&2
done
"$PY" scripts/pruning_tables.py "$OUT" --plots "$OUT/plots" > "$OUT/tables.md"
echo "tables: $OUT/tables.md" >&2
