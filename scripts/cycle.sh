#!/usr/bin/env bash
# The main job on the embedded defaults: SQLite MLflow, synthetic data, GitHub in dry-run.
# Runs the monthly cycle twice: last month as it is, then this month with simulated drift.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
last_month="$(python -c 'import datetime as d; t = d.date.today().replace(day=1); print((t - d.timedelta(days=1)).strftime("%Y-%m"))')"
this_month="$(date -u +%Y-%m)"
pipeline run --period "$last_month" --dry-run "$@"
pipeline run --period "$this_month" --simulate-drift --dry-run "$@"
echo
echo "Results: outputs/attrition/$last_month/ and outputs/attrition/$this_month/"
echo "MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db"
