#!/bin/sh
# Install into /opt/venv as an image ships it. Two forms:
#
#   driftgate-install requirements FILE imported|all   one locked list (exported from uv.lock)
#   driftgate-install wheels DIR                        Driftgate's own wheel, no dependencies
#
# A requirements install:
#   - --require-hashes --no-deps: exactly the files uv.lock names, nothing resolved here;
#   - pip itself stays out of the image: a throw-away installer venv runs it (--python), removed
#     in the same layer (pip and setuptools are 23 MB no run needs);
#   - what no run of the image reads is dropped from the verified wheels: the test suites of the
#     numerical packages, C and Cython sources and headers, type stubs, pyarrow's headers and
#     Flight libraries (Driftgate reads Parquet files and serves no Arrow Flight; every pyarrow
#     module links Substrait, so that stays), Plotly's JupyterLab extension, Evidently's UI
#     service front-ends (its HTML reports inline their own script, which stays), example
#     notebooks and statsmodels' example data sets;
#   - the shared libraries' symbol tables are stripped (`strip --strip-unneeded`; binutils is
#     added and purged in this same layer), except the ones auditwheel vendored into *.libs/;
#   - byte code: `all` compiles every module (the mlflow image, whose server imports widely);
#     `imported` writes it for what Driftgate's commands import (scripts/warm_bytecode.py
#     --libraries), 85 MB instead of 168 MB for the batch image. A module without .pyc compiles
#     at each start of a process (the image's user cannot write them), so the list matters for
#     start-up, not for correctness.
set -eu
installer=/tmp/driftgate-installer

pip_into_venv() {
    python -m venv "$installer"
    "$installer/bin/pip" --python /opt/venv/bin/python install --quiet --no-cache-dir \
        --disable-pip-version-check "$@"
    rm -rf "$installer"
}

case "$1" in
wheels)
    pip_into_venv --no-deps "$2"/*.whl
    exit 0
    ;;
requirements) ;;
*)
    echo "driftgate-install: unknown form $1 (requirements FILE imported|all, or wheels DIR)" >&2
    exit 2
    ;;
esac
requirements="$2"
bytecode="$3"
python -m venv --without-pip /opt/venv
pip_into_venv --no-deps --require-hashes --no-compile -r "$requirements"

site=/opt/venv/lib/python3.11/site-packages
for package in numpy scipy pandas sklearn pyarrow statsmodels matplotlib graphene; do
    if [ -d "$site/$package" ]; then
        find "$site/$package" -depth -type d -name tests -exec rm -rf {} +
    fi
done
find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.pyi' \
    -o -name '*.c' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) -delete
rm -rf "$site"/pyarrow/include "$site"/pyarrow/src "$site"/pyarrow/libarrow_flight.so* \
    "$site"/pyarrow/libarrow_python_flight.so* "$site"/pyarrow/_flight.*.so \
    "$site"/jupyterlab_plotly /opt/venv/share/jupyter \
    "$site"/evidently/ui/service/assets "$site"/evidently/legacy/ui/assets
find "$site" -type f -name '*.ipynb' -delete
if [ -d "$site/statsmodels/datasets" ]; then
    find "$site/statsmodels/datasets" -type f \( -name '*.csv' -o -name '*.dta' \) -delete
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends binutils >/dev/null
# Not the libraries auditwheel vendored into *.libs/: patchelf rewrote their headers, and strip
# leaves them unloadable ("ELF load command address/offset not page-aligned", NumPy's OpenBLAS).
find "$site" -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} +
apt-get purge -y -q --auto-remove binutils >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log

# Files that are byte for byte the same (a library two wheels both vendor, pyarrow's three
# copies of libarrow_python: wheels cannot hold symbolic links) become one, hard-linked.
/opt/venv/bin/python - "$site" <<'PYTHON'
import hashlib, os, sys
first = {}
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        if os.path.islink(path) or os.path.getsize(path) < 65536:
            continue
        with open(path, "rb") as stream:
            key = hashlib.sha256(stream.read()).hexdigest()
        if key in first:
            os.link(first[key], path + ".link")
            os.replace(path + ".link", path)
        else:
            first[key] = path
PYTHON

case "$bytecode" in
all) /opt/venv/bin/python -m compileall -q -j 0 "$site" >/dev/null ;;
imported)
    env -u PYTHONDONTWRITEBYTECODE /opt/venv/bin/python /usr/local/lib/driftgate/warm_bytecode.py \
        --libraries
    ;;
*)
    echo "driftgate-install: byte code is 'imported' or 'all', not $bytecode" >&2
    exit 2
    ;;
esac
