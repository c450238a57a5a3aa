#!/usr/bin/env bash
# The test command: formatting, imports, lint, strict types, then the test suite.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
black --check --quiet pipeline tests scripts bench
isort --check-only --quiet pipeline tests scripts bench
flake8 pipeline tests scripts bench
mypy
pytest -q "$@"
