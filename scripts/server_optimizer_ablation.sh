#!/usr/bin/env bash
# Why server Adam loses to FedAvg here: runs on the digits corpus (the setting of
# docs/results/dga.md: 30 speaker clients, 4 per round, 2 local epochs, 5-second batches, seed 0,
# 30 rounds) that separate the server update's gain, its lag (momentum) and its per-coordinate
# normalization, and vary the client learning rate. Results: docs/benchmarks.md, "Why server
# Adam loses here". About 90 s per 30-round run on 2 cores (the 2-step runs: 2-9 min). The last
# fifteen runs (e1-*) use the shape of configs/fedavg.yaml instead: 8 clients a round, 1 local
# epoch, 40 rounds.
#
#   bash scripts/server_optimizer_ablation.sh [OUT]        (default OUT: runs/server_ablation)
#   ONLY=sgd-lr2 bash scripts/server_optimizer_ablation.sh  (one run, by name)
#   CORPUS=DIR ...   the digits corpus (default corpora/digits, built there if missing)
#   QUEUE=CMD ...    on a shared machine, a command that runs its arguments in turn with other
#                    heavy jobs (the machine's job queue, or e.g. QUEUE="flock PATH"); each run
#                    goes through it. Empty (the default): runs start directly.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/server_ablation}
CORPUS=${CORPUS:-corpora/digits}
QUEUE=${QUEUE:-}
[ -f "$CORPUS/train.jsonl" ] || fedasr data synth --out "$CORPUS" --size small --vocab digits
BASE=(configs/fedavg.yaml seed=0 "data.corpus=$CORPUS" rounds.total=30 eval.every=2
      "eval.splits=[heldout]" eval.max_utterances=null logging.tensorboard=false
      logging.progress=false logging.checkpoint_every=10 rounds.clients_per_round=4
      client.local_epochs=2 client.batch_seconds=5 executor.workers=2 data.synth_if_missing=null)
run() {
    local name=$1; shift
    [ -n "${ONLY:-}" ] && [ "$name" != "$ONLY" ] && return
    [ -f "$OUT/$name/model.safetensors" ] && return
    echo "$(date -u +%T) $name"
    $QUEUE fedasr run "${BASE[@]}" -q "name=$name" "run_dir=$OUT/$name" "$@"
}
# the server update's gain and lag, no normalization
run fedavg             server.optimizer=sgd server.lr=1.0
run sgd-lr2            server.optimizer=sgd server.lr=2.0
run momentum09-lr01    server.optimizer=momentum server.momentum=0.9 server.lr=0.1
# Adam: normalization and momentum, one at a time
run adam-lr001         server.optimizer=adam server.lr=0.001 server.tau=0.001
run adam-lr003-bc      server.optimizer=adam server.lr=0.003 server.tau=0.001 server.bias_correction=true
run adam-lr01          server.optimizer=adam server.lr=0.01 server.tau=0.001
run adam-lr01-tau01    server.optimizer=adam server.lr=0.01 server.tau=0.01
run adam-lr03-tau03    server.optimizer=adam server.lr=0.03 server.tau=0.03
run adam-lr01-b0       server.optimizer=adam server.lr=0.01 server.tau=0.001 server.beta1=0.0
run adam-lr01-b0-tau01-bc server.optimizer=adam server.lr=0.01 server.tau=0.01 server.beta1=0.0 server.bias_correction=true
# a smaller client step leaves the server something to do
run fedavg-clr001      server.optimizer=sgd server.lr=1.0 client.lr=0.001 client.lr_schedule.min_lr=0.0001
run adam-lr01-clr001   server.optimizer=adam server.lr=0.01 server.tau=0.001 client.lr=0.001 client.lr_schedule.min_lr=0.0001
run adam-lr03-clr001   server.optimizer=adam server.lr=0.03 server.tau=0.001 client.lr=0.001 client.lr_schedule.min_lr=0.0001
run adam-lr01-clr0003  server.optimizer=adam server.lr=0.01 server.tau=0.001 client.lr=0.0003 client.lr_schedule.min_lr=0.00003
# clients that under-step (2 local steps a round, 300 rounds): the regime of Reddi et al.
U=(client.max_steps=2 rounds.total=300 eval.every=10)
run fedavg-2steps      "${U[@]}" server.optimizer=sgd server.lr=1.0
run adam-lr003-2steps  "${U[@]}" server.optimizer=adam server.lr=0.003 server.tau=0.001
run adam-lr01-2steps   "${U[@]}" server.optimizer=adam server.lr=0.01 server.tau=0.001
# the same with 15 clients a round instead of 4 (less noise in the pseudo-gradient)
run fedavg-2steps-15c  "${U[@]}" rounds.clients_per_round=15 server.optimizer=sgd server.lr=1.0
run adam-lr01-2steps-15c "${U[@]}" rounds.clients_per_round=15 server.optimizer=adam server.lr=0.01 server.tau=0.001
run adam-lr003-2steps-15c "${U[@]}" rounds.clients_per_round=15 server.optimizer=adam server.lr=0.003 server.tau=0.001
run adam-lr03-2steps-15c "${U[@]}" rounds.clients_per_round=15 server.optimizer=adam server.lr=0.03 server.tau=0.001
# and with every client every round (30), 250 rounds
run fedavg-2steps-30c  "${U[@]}" rounds.total=250 rounds.clients_per_round=30 server.optimizer=sgd server.lr=1.0
run adam-lr01-2steps-30c "${U[@]}" rounds.total=250 rounds.clients_per_round=30 server.optimizer=adam server.lr=0.01 server.tau=0.001
# the shape of configs/fedavg.yaml (8 clients a round, 1 local epoch; 40 rounds): SGD clients as in Reddi et
# al. (constant client rate), and server learning-rate schedules for the shipped pair
S=(rounds.total=40 eval.every=5 rounds.clients_per_round=8 client.local_epochs=1)
SGDC=("${S[@]}" client.optimizer=sgd client.lr_schedule.kind=constant)
run e1-fedavg-adamw     "${S[@]}" server.optimizer=sgd server.lr=1.0
run e1-fedavg-sgd03     "${SGDC[@]}" client.lr=0.3 server.optimizer=sgd server.lr=1.0
run e1-fedavg-sgd1      "${SGDC[@]}" client.lr=1.0 server.optimizer=sgd server.lr=1.0
run e1-adam-sgd03-s003  "${SGDC[@]}" client.lr=0.3 server.optimizer=adam server.lr=0.003 server.tau=0.001
run e1-adam-sgd03-s01   "${SGDC[@]}" client.lr=0.3 server.optimizer=adam server.lr=0.01 server.tau=0.001
run e1-adam-sgd01-s01   "${SGDC[@]}" client.lr=0.1 server.optimizer=adam server.lr=0.01 server.tau=0.001
run e1-adam-sgd03-s03   "${SGDC[@]}" client.lr=0.3 server.optimizer=adam server.lr=0.03 server.tau=0.001
run e1-adam-sgd03-s1    "${SGDC[@]}" client.lr=0.3 server.optimizer=adam server.lr=0.1 server.tau=0.001
run e1-adam-sgd01-s03   "${SGDC[@]}" client.lr=0.1 server.optimizer=adam server.lr=0.03 server.tau=0.001
run e1-sgd-lr15         "${S[@]}" server.optimizer=sgd server.lr=1.5
run e1-yogi-adamw-s01    "${S[@]}" server.optimizer=yogi server.lr=0.01 server.tau=0.001
run e1-adagrad-adamw-s01 "${S[@]}" server.optimizer=adagrad server.lr=0.01 server.tau=0.001
COS=(server.lr_schedule.kind=cosine server.lr_schedule.min_lr=0.001)
run e1-adam-adamw-s01       "${S[@]}" server.optimizer=adam server.lr=0.01 server.tau=0.001
run e1-adam-adamw-s01-cos   "${S[@]}" server.optimizer=adam server.lr=0.01 server.tau=0.001 "${COS[@]}"
run e1-adam-adamw-s01-w5cos "${S[@]}" server.optimizer=adam server.lr=0.01 server.tau=0.001 "${COS[@]}" server.lr_schedule.warmup=5
if [ -z "${ONLY:-}" ]; then python -m benchmarks.weight_displacement "$OUT"/*/; fi
