#!/usr/bin/env bash
# The tuning and variational-noise arms of docs/results/quality_cost.md (issue 17), within a
# wall-clock budget, seed 0 of every arm first:
#   1. the untuned p = 0 setting (configs/quality_cost.yaml, 1 local epoch) with and without
#      noise; without noise it is the sweep's run again, from this code: when seed 0 repeats the
#      sweep's heldout WERs exactly, seeds 1-2 of it are not re-run (the sweep's serve)
#   2. resume the p = 0 tuning study to TRIALS finished trials, with the code at TUNE_CODE (a
#      source tree: its src/ and configs/)
#   3. the study's best setting with and without noise, at the same cost (4800 example-passes)
#
#   scripts/quality_cost_noise.sh CORPUS SWEEP_DIR STUDY_DIR OUT BUDGET_S TRIALS TUNE_CODE
#
# Re-running it skips finished runs. Environment: NOISE overrides the noise setting; END_EPOCH
# (seconds since 1970) ends the budget earlier, at that time.
set -euo pipefail
[ $# -eq 7 ] || { sed -n 2,15p "$0" >&2; exit 2; }
corpus=$1 sweep=$2 study=$3 out=$4 budget=$5 trials=$6 tune_code=$7
repo=$(cd "$(dirname "$0")/.." && pwd)
fedasr=${FEDASR:-fedasr} python=${PYTHON:-python}
read -r -a noise <<<"${NOISE:-client.variational_noise.std=0.05 client.variational_noise.scale=rms}"
deadline=$(( $(date +%s) + budget ))
deadline=$(( ${END_EPOCH:-deadline} < deadline ? ${END_EPOCH:-deadline} : deadline ))
left() { echo $(( deadline - $(date +%s) )); }
stamp() { echo "[$(date -u +%T)] $*"; }

# run ARM SEED KEY=VALUE...: one run of configs/quality_cost.yaml into OUT/ARM/seed=SEED
run() {
  local arm=$1 seed=$2 dir="$out/$1/seed=$2"; shift 2
  if [ -f "$dir/model.safetensors" ]; then stamp "$arm seed $seed: finished before"; return; fi
  if [ "$(left)" -lt 90 ]; then stamp "$arm seed $seed: NOT RUN (budget spent)"; return; fi
  stamp "$arm seed $seed: start"
  timeout -s INT "$(left)" "$fedasr" run "$repo/configs/quality_cost.yaml" \
    "data.corpus=$corpus" "seed=$seed" "name=${arm}_seed=$seed" "run_dir=$dir" \
    logging.progress=false "$@" || stamp "$arm seed $seed: exit $?"
  stamp "$arm seed $seed: end"
}

untuned=(partition.params.p=0.0 client.local_epochs=1 rounds.total=60 eval.every=4)
run p0_untuned 0 "${untuned[@]}"
run p0_untuned_noise 0 "${untuned[@]}" "${noise[@]}"
same=$("$python" - "$out/p0_untuned/seed=0" "$sweep/seed=0_p=0.0_local_epochs=1" <<'EOF'
import json, sys
def wers(path):
    with open(f"{path}/metrics.jsonl") as f:
        return [r.get("heldout_wer") for r in map(json.loads, f) if "heldout_wer" in r]
try:
    print("yes" if wers(sys.argv[1]) == wers(sys.argv[2]) else "no")
except OSError:
    print("no")
EOF
)
stamp "untuned p = 0 seed 0 repeats the sweep's run exactly: $same"

tune_s=$(( $(left) < 480 ? $(left) - 60 : 420 ))
if [ "$tune_s" -gt 60 ]; then
  stamp "tune: resume to $trials finished trials, at most $tune_s s"
  # the study's own command (runs/jobs/tune.sh in the first session), more trials
  PYTHONPATH="$tune_code/src" timeout -s INT "$tune_s" "$fedasr" tune \
    "$tune_code/configs/quality_cost.yaml" "data.corpus=$corpus" partition.params.p=0.0 \
    rounds.total=120 client.lr_schedule.kind=constant eval.every=2 name=qc_p0_tune \
    --space "$tune_code/configs/tune/quality_cost_p0.yaml" --study-dir "$study" \
    --budget 4800 --unit examples --n-trials "$trials" -q || stamp "tune: exit $?"
fi
# the best trial's parameters, and the rounds that spend 4800 example-passes (20 a client)
read -r -a best < <("$python" - "$study/study.db" <<'EOF'
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=None, storage=f"sqlite:///{sys.argv[1]}")
best = study.best_trial
print(f"best of {len(study.trials)} trials: {best.number}, value {best.values}", file=sys.stderr)
params = best.params
per_round = params["rounds.clients_per_round"] * params["client.local_epochs"] * 20
assert 4800 % per_round == 0, params
print(*(f"{k}={v}" for k, v in params.items()), f"rounds.total={4800 // per_round}")
EOF
)
stamp "tuned setting: ${best[*]}"
tuned=(partition.params.p=0.0 client.lr_schedule.kind=constant eval.every=2 "${best[@]}")
run p0_tuned 0 "${tuned[@]}"
run p0_tuned_noise 0 "${tuned[@]}" "${noise[@]}"
for seed in 1 2; do
  run p0_untuned_noise "$seed" "${untuned[@]}" "${noise[@]}"
  run p0_tuned "$seed" "${tuned[@]}"
  run p0_tuned_noise "$seed" "${tuned[@]}" "${noise[@]}"
done
if [ "$same" != yes ]; then
  for seed in 1 2; do run p0_untuned "$seed" "${untuned[@]}"; done
fi
stamp "done; $(left) s of the budget left"
