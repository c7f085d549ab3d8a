#!/usr/bin/env bash
# The converged comparison on movielens (issue 10): every model × preset × seed trained with validation every epoch,
# test metrics and parameters logged every epoch, until the library's early stopping (every 3 epochs, patience 5)
# would have stopped it (at most 150 epochs, LightGCN 1000). The cheap models first, each over all seeds; a finished run (result.json)
# is skipped and a killed one resumes from its last epoch, so the script can be started again until all is done.
# bench/converged.ts reads the logs and writes bench/results/converged-movielens.md.
#
#   bash bench/converged.sh [RUNS_DIR]      (default bench/results/tmp/conv)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${IRLLREC_SHARED_DATA:-../shared/data}/movielens"
RUNS="${1:-bench/results/tmp/conv}"
SEEDS="${SEEDS:-2023 2024 2025}"
# LightGCN and RLMRec-Con: on movielens the default preset is the reference one (same values), one run each.
# MODEL:tuned trains the best configuration of a tuning study, $TUNED/MODEL/best.json (irllrec tune --out).
TUNED="${TUNED:-bench/results/movielens-runs/tune}"
PLAN="${PLAN:-lightgcn:default rlmrec:default irllrec:default irllrec:reference}"
for mp in $PLAN; do
  for seed in $SEEDS; do
    model="${mp%%:*}"; preset="${mp##*:}"
    dir="$RUNS/$model-$preset-$seed"
    [ -f "$dir/result.json" ] && continue
    # LightGCN at lr 1e-3 still improves at epoch 150 on movielens (validation Recall@20 0.189 and rising) and an
    # epoch costs ~1 s: it gets 1000. A run that reaches its cap is reported as capped, not converged.
    if [ "$model" = lightgcn ]; then cap="${LIGHTGCN_MAX_EPOCHS:-1000}"; else cap="${MAX_EPOCHS:-150}"; fi
    if [ "$preset" = tuned ]; then setting=(--run-config "$TUNED/$model/best.json"); else setting=(--preset "$preset"); fi
    echo "== $model $preset seed $seed -> $dir" >&2
    node bench/run.mjs bench/longrun.ts --data "$DATA" --model "$model" "${setting[@]}" --epochs "$cap" \
      --eval-every 1 --stop-rule 3:5 --seed "$seed" --log-test --keep-params --dir "$dir"
  done
done
