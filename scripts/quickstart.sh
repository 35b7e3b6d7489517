#!/usr/bin/env bash
# The README's main job: set-up, a short MOCA pretraining on Fashion-MNIST, then the evaluation
# harness (k-NN, linear probe, low-shot) on it and on the pixels / random-init floors. Re-running
# continues or reuses what is already there. MASKEDSSL_QUICKSTART_BUDGET changes the budget (5m).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
budget=${MASKEDSSL_QUICKSTART_BUDGET:-5m}
run=runs/quickstart-moca
cli() { npx tsx --conditions=maskedssl-source packages/cli/src/main.ts "$@"; }

cli info
resume=()
[ -d "$run/checkpoints" ] && [ -n "$(ls -A "$run/checkpoints" 2>/dev/null)" ] && resume=(--resume)
cli pretrain --method moca --dataset fashion-mnist --budget "$budget" --out "$run" "${resume[@]}"
cli eval --checkpoint "$run" --dataset fashion-mnist --protocols knn,linear,lowshot --out "$run/eval"
[ -f runs/quickstart-pixels/results.json ] || cli eval --features pixels --dataset fashion-mnist --protocols knn,linear,lowshot --out runs/quickstart-pixels
# random weights in the shape of the network MOCA trained (its preset's backbone)
cli eval --features random-init --backbone "$run" --dataset fashion-mnist --protocols knn,linear,lowshot --out runs/quickstart-random-init
echo
echo "MOCA after $budget on Fashion-MNIST (results in $run/eval, floors in runs/quickstart-pixels and runs/quickstart-random-init):"
cat "$run/eval/results.md" runs/quickstart-pixels/results.md runs/quickstart-random-init/results.md | awk 'NR<=2 || !/^\| (features|---)/'
