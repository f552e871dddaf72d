#!/usr/bin/env bash
# Every run behind docs/results/trust.md, then its tables and plots:
#   HEAVY bash scripts/trust_results.sh CORPUS        (HEAVY: the machine's heavy-job queue)
# CORPUS: a built digits corpus (`fedasr data synth --size small --vocab digits`). OUT (default
# runs/trust) holds the runs; finished runs are read back, not repeated, so the script can be
# run again after a stop. PY (default .venv/bin/python, else python3) runs everything.
#
# BUDGET_MIN (default 28): no arm starts after that many minutes; the grid runs its arms most
# important first (benchmarks/trust_grid.py), so the budget cuts extra seeds and rates, and the
# tables say which arms did not run.
#
# The code is the committed HEAD, copied to OUT/code-COMMIT when the script starts, so the runs
# do not change if the working tree does while they train; the results name that commit.
# If HEAD does not hold the grid yet (benchmarks/trust_grid.py), the script puts itself back in
# the queue named by QUEUE (a command that runs its arguments in turn), or stops.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=$(realpath "${1:?usage: bash scripts/trust_results.sh CORPUS}")
OUT=$(realpath -m "${OUT:-runs/trust}")
PY=${PY:-$([ -x .venv/bin/python ] && echo "$PWD/.venv/bin/python" || echo python3)}
commit=$(git rev-parse HEAD)
if ! git cat-file -e "$commit:benchmarks/trust_grid.py" 2>/dev/null; then
  echo "$(date -u +%FT%TZ) HEAD $commit has no benchmarks/trust_grid.py yet" >&2
  if [ -n "${QUEUE:-}" ]; then
    nohup "$QUEUE" bash "$PWD/scripts/trust_results.sh" "$CORPUS" >> "$OUT.requeue.log" 2>&1 &
  fi
  exit 0
fi
mkdir -p "$OUT"
snapshot() {  # snapshot COMMIT -> the directory holding that commit's files
  local dir=$OUT/code-$1
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    git archive "$1" | tar -x -C "$dir.partial"
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}
snap=$(snapshot "$commit")
echo "$(date -u +%FT%TZ) code $commit, load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$snap"  # `python -m benchmarks...` finds the snapshot's modules, not the working tree's
exec env PYTHONPATH="$snap/src" "$PY" -m benchmarks.trust_grid \
  --corpus "$CORPUS" --out "$OUT" --commit "$commit" --budget-min "${BUDGET_MIN:-28}"
