#!/usr/bin/env bash
# The main job on the embedded defaults: SQLite MLflow, synthetic data, GitHub in dry-run.
# For every configured model, the loop closes once: two ordinary months, then the world changes
# (simulated drift from then on) and each month's drift issue is written; when the changed
# month's labels arrive (label_delay_months later) a challenger learns the new world and a
# promotion PR is proposed; the script plays its merge (`pipeline play-merge`, then `pipeline
# promote --event`, as promote.yml does) and this month is served by the new champion.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
# The played merges change these cards, not the ones in git (model_cards/).
export PIPELINE_MODEL_CARDS_DIR="${PIPELINE_MODEL_CARDS_DIR:-outputs/model_cards}"
if [ ! -d "$PIPELINE_MODEL_CARDS_DIR" ]; then
    mkdir -p "$PIPELINE_MODEL_CARDS_DIR"
    cp model_cards/*.md "$PIPELINE_MODEL_CARDS_DIR/"
fi
this_month="$(date -u +%Y-%m)"
month() { python -c "from pipeline.model.periods import shift_month as f; print(f('$this_month', -$1))"; }
models="$(python -c 'from pipeline.config import load_settings; print(" ".join(sorted(load_settings().models)))')"
for model in $models; do
    delay="$(python -c "from pipeline.config import load_settings as s; print(s().model('$model').label_delay_months)")"
    # The world changes in month T-(delay+1): its labels arrive last month, T-1.
    change=$((delay + 1))
    for back in $((change + 2)) $((change + 1)); do  # before the change: scored and checked
        pipeline run --model "$model" --period "$(month "$back")" --steps predict,drift --dry-run "$@"
    done
    for back in $(seq "$change" -1 1); do  # the changed months, each with its drift issue
        pipeline run --model "$model" --period "$(month "$back")" --simulate-drift --dry-run "$@"
    done
    proposed="$(month 1)"
    if [ -f "outputs/$model/$proposed/promotion_card.md" ]; then
        event="$(pipeline play-merge --model "$model" --period "$proposed")"
        pipeline promote --model "$model" --event "$event" --dry-run >/dev/null \
            || echo "$model: the played merge did not promote (see the comment above)" >&2
    fi
    pipeline run --model "$model" --period "$this_month" --simulate-drift --dry-run "$@"
done
echo
for model in $models; do
    echo "$model: issues in outputs/$model/<period>/issue.md; the promotion PR in outputs/$model/$(month 1)/promotion_pr.md"
done
echo "Model cards after the played merges: $PIPELINE_MODEL_CARDS_DIR/"
echo "History: .venv/bin/pipeline history --model NAME"
echo "MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db"
