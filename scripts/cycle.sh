#!/usr/bin/env bash
# The main job on the embedded defaults: SQLite MLflow, synthetic data, GitHub in dry-run.
# For every configured model the loop closes once (`pipeline walkthrough`): two ordinary months,
# then the world changes and each month's drift issue is written; when the changed month's
# labels arrive a challenger learns the new world and a promotion PR is proposed; its merge is
# played (`pipeline play-merge`, then `pipeline promote --event`, as promote.yml does) and this
# month is served by the new champion.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
# The played merges change these cards, not the ones in git (model_cards/).
export PIPELINE_MODEL_CARDS_DIR="${PIPELINE_MODEL_CARDS_DIR:-outputs/model_cards}"
if [ ! -d "$PIPELINE_MODEL_CARDS_DIR" ]; then
    mkdir -p "$PIPELINE_MODEL_CARDS_DIR"
    cp model_cards/*.md "$PIPELINE_MODEL_CARDS_DIR/"
fi
pipeline walkthrough "$@"
echo "Each month's issue: outputs/<model>/<period>/issue.md; last month's promotion PR beside it"
echo "(promotion_pr.md, and promotion_card.md, the card it commits). Cards after the played"
echo "merges: $PIPELINE_MODEL_CARDS_DIR/ (model_cards/ in git is left as it is)."
echo "Dashboard: PIPELINE_MODEL_CARDS_DIR=$PIPELINE_MODEL_CARDS_DIR .venv/bin/pipeline dashboard --out site --open"
echo "History: .venv/bin/pipeline history --model NAME"
echo "MLflow UI: .tools/bin/uv run --frozen --extra ui mlflow ui --backend-store-uri sqlite:///mlruns.db"
