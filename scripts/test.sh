#!/usr/bin/env bash
# The test command: formatting, imports, lint, strict types, the architecture's contracts, then
# the whole test suite on every core. Arguments go to pytest (e.g. `-m "not slow"`: the unit tests).
set -euo pipefail
DRIFTGATE_INSTALL=dev source "$(dirname "$0")/bootstrap.sh"
black --check --quiet pipeline tests scripts bench docker
isort --check-only --quiet pipeline tests scripts bench docker
flake8 pipeline tests scripts bench docker
mypy
lint-imports --no-cache
pytest -q -n auto --dist loadgroup --maxschedchunk 2 --durations=15 "$@"
