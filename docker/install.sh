#!/bin/sh
# Install one locked requirements list (exported from uv.lock, with hashes) into /opt/venv, as an
# image ships it:
#   - --require-hashes --no-deps: exactly the files uv.lock names, nothing resolved here;
#   - no test suites of the numerical packages (150 MB no run needs);
#   - bytecode compiled once here, except for the two generated trees that make up most of
#     Plotly (88 MB of .pyc for the few classes a report draws: those compile when imported).
#     A module without .pyc compiles at each start of a process (the image's user cannot write
#     them); measured here, all .pyc against none: 5.8 s against 14.8 s to import what the
#     drift step imports, and these exclusions cost 0.7 s of it.
set -eu
python -m venv /opt/venv
/opt/venv/bin/pip install --quiet --no-cache-dir --no-deps --require-hashes --no-compile -r "$1"
site=/opt/venv/lib/python3.11/site-packages
for package in numpy scipy pandas sklearn pyarrow statsmodels matplotlib graphene; do
    if [ -d "$site/$package" ]; then
        find "$site/$package" -depth -type d -name tests -exec rm -rf {} +
    fi
done
/opt/venv/bin/python -m compileall -q -j 0 -x 'site-packages/plotly/(validators|graph_objs)/' \
    "$site" >/dev/null
