#!/usr/bin/env bash
# Every run behind docs/results/trust.md, then its tables and plots:
#   /work/shared/bin/heavy bash scripts/trust_results.sh CORPUS     (or plain `bash ...`)
# CORPUS: a built digits corpus (`fedasr data synth --size small --vocab digits`). OUT (default
# runs/trust) holds the runs; finished runs are read back, not repeated, so the script can be
# run again after a stop. PY (default .venv/bin/python, else python3) runs everything.
#
# The code is the committed HEAD, copied to OUT/code-COMMIT when the script starts, so the runs
# do not change if the working tree does while they train; the results name that commit.
# If HEAD does not hold the grid yet (scripts/trust_grid.py), the script puts itself back at
# the end of the queue named by QUEUE (default /work/shared/bin/heavy when it exists) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:?usage: bash scripts/trust_results.sh CORPUS}
OUT=${OUT:-runs/trust}
PY=${PY:-$([ -x .venv/bin/python ] && echo "$PWD/.venv/bin/python" || echo python3)}
commit=$(git rev-parse HEAD)
if ! git cat-file -e "$commit:scripts/trust_grid.py" 2>/dev/null; then
  queue=${QUEUE:-$([ -x /work/shared/bin/heavy ] && echo /work/shared/bin/heavy || echo "")}
  echo "$(date -u +%FT%TZ) HEAD $commit has no scripts/trust_grid.py yet; requeued" >&2
  [ -n "$queue" ] && nohup "$queue" bash "$PWD/scripts/trust_results.sh" "$@" >> "$OUT.requeue.log" 2>&1 &
  exit 0
fi
mkdir -p "$OUT"
snap=$OUT/code-$commit
if [ ! -d "$snap" ]; then
  rm -rf "$snap.partial"
  mkdir -p "$snap.partial"
  git archive "$commit" | tar -x -C "$snap.partial"
  mv "$snap.partial" "$snap"
fi
echo "$(date -u +%FT%TZ) code $commit, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec env PYTHONPATH="$PWD/$snap/src:$PWD/$snap" "$PY" "$snap/scripts/trust_grid.py" \
  --corpus "$CORPUS" --out "$OUT" --commit "$commit"
