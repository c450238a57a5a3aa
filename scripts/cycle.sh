#!/usr/bin/env bash
# The main job on the embedded defaults: SQLite MLflow, synthetic data, GitHub in dry-run.
# For every configured model, runs the monthly cycle twice: last month as it is, then this
# month with simulated drift.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
last_month="$(python -c 'import datetime as d; t = d.date.today().replace(day=1); print((t - d.timedelta(days=1)).strftime("%Y-%m"))')"
this_month="$(date -u +%Y-%m)"
models="$(python -c 'from pipeline.config import load_settings; print(" ".join(sorted(load_settings().models)))')"
for model in $models; do
    pipeline run --model "$model" --period "$last_month" --dry-run "$@"
    pipeline run --model "$model" --period "$this_month" --simulate-drift --dry-run "$@"
done
echo
for model in $models; do
    echo "Results: outputs/$model/$last_month/ and outputs/$model/$this_month/"
done
echo "History: .venv/bin/pipeline history --model NAME"
echo "MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db"
