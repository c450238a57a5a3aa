#!/usr/bin/env bash
# The main job on the embedded defaults: SQLite MLflow, synthetic data, GitHub in dry-run.
# For every configured model, runs the monthly cycle twice: last month as it is, then this
# month with simulated drift; before them, the months whose late labels arrive by now.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
last_month="$(python -c 'import datetime as d; t = d.date.today().replace(day=1); print((t - d.timedelta(days=1)).strftime("%Y-%m"))')"
this_month="$(date -u +%Y-%m)"
models="$(python -c 'from pipeline.config import load_settings; print(" ".join(sorted(load_settings().models)))')"
for model in $models; do
    # Months before, scored and checked only, so that late labels (label_delay_months) have
    # matured by this month: the issue then shows realized next to estimated performance.
    delay="$(python -c "from pipeline.config import load_settings as s; print(s().model('$model').label_delay_months)")"
    for back in $(seq $((delay + 2)) -1 2); do
        month="$(python -c "from pipeline.model.periods import shift_month as f; print(f('$this_month', -$back))")"
        pipeline run --model "$model" --period "$month" --steps predict,drift --dry-run "$@"
    done
    pipeline run --model "$model" --period "$last_month" --dry-run "$@"
    pipeline run --model "$model" --period "$this_month" --simulate-drift --dry-run "$@"
done
echo
for model in $models; do
    echo "Results: outputs/$model/$last_month/ and outputs/$model/$this_month/"
done
echo "History: .venv/bin/pipeline history --model NAME"
echo "MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db"
