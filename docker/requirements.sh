#!/bin/sh
# Each image's pinned, hashed requirements, exported from uv.lock (run in the Dockerfile's
# `requirements` stage, beside pyproject.toml and uv.lock):
#   batch.txt   the runtime and the extras in $1 (comma-separated, e.g. postgres,spark-connect),
#               less statsmodels and what only it needs: Evidently requires it but none of its
#               code imports it (tests/test_lock.py checks that), and it is 25 MB of the image
#   api.txt     the `serving` group: what `pipeline serve` imports (no Evidently, Plotly,
#               statsmodels or Parquet)
#   mlflow.txt  the `tracking-server` group: MLflow's server, not Driftgate
set -eu
uv="${UV:-uv}"
out="${2:-/}"
extras=""
for extra in $(echo "$1" | tr ',' ' '); do
    extras="$extras --extra $extra"
done
export_locked() {
    "$uv" export --quiet --frozen --no-emit-project --no-default-groups "$@"
}
# Kept in step with UNUSED_BY_BATCH in tests/test_lock.py.
unused="statsmodels patsy formulaic interface-meta"
for package in $unused; do
    extras="$extras --no-emit-package $package"
done
# shellcheck disable=SC2086 # one word per option
export_locked $extras --output-file "$out/batch.txt"
export_locked --only-group serving --output-file "$out/api.txt"
export_locked --only-group tracking-server --output-file "$out/mlflow.txt"
