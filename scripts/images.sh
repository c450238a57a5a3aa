#!/usr/bin/env bash
# Build every Dockerfile target with podman and run the images for real, without a Docker engine
# or a container registry: the base image is made here with debootstrap, once per recipe.
#
#   bash scripts/images.sh            # install, base, build batch/api/mlflow, sizes, run tests
#   IMAGES_SKIP_TESTS=1 bash scripts/images.sh    # build and size only
#
# Needs root (apt-get, debootstrap, podman's storage). Settings: DRIFTGATE_PODMAN_DIR (podman's
# storage and configuration, default /var/tmp/driftgate-podman), DEBIAN_MIRROR (default: the
# mirror apt uses here).
set -euo pipefail
DRIFTGATE_INSTALL=dev source "$(dirname "$0")/bootstrap.sh"

WORK="${DRIFTGATE_PODMAN_DIR:-/var/tmp/driftgate-podman}"
BASE_IMAGE="localhost/python:3.11-slim-bookworm"
PREFIX="${IMAGE_PREFIX:-localhost/driftgate}"
TAG="${IMAGE_TAG:-local}"
TARGETS=(batch api mlflow)
say() { printf 'images: %s\n' "$*" >&2; }

# --- what podman needs: Debian's packages, podman-compose from PyPI ----------------------------
packages=(podman buildah runc uidmap slirp4netns containernetworking-plugins catatonit debootstrap)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >/dev/null; }
fi

# --- podman's configuration: what runs on this kind of machine ---------------------------------
# runc, not crun (crun's setrlimit and cgroup handling fail here); cgroupfs; host networking (no
# bridge plugin set-up needed); nofile at the hard limit and nproc 32768 (higher is refused);
# overlay storage in a work folder (vfs needs 22 GB and 7 minutes per build).
mkdir -p "$WORK/storage" "$WORK/run"
hard_nofile="$(ulimit -Hn)"
cat > "$WORK/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
cat > "$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$WORK/run"
graphroot = "$WORK/storage"
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"

# --- the base image, made once per recipe (no registry to pull python:3.11-slim from) ---------
mirror="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
    | head -n1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
make_base() {
    local rootfs
    rootfs="$(mktemp -d "$WORK/rootfs.XXXXXX")"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
        >/dev/null
    # The Dockerfile calls `python`, as the python:3.11-slim images provide it; no docs, no
    # package lists, as in those images.
    chroot "$rootfs" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends python-is-python3 >/dev/null && apt-get clean \
        && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
            /usr/share/locale/*'
    tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
        --change 'CMD ["python3"]' --change "LABEL driftgate.base=$1" - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
}
# Cached by content: the recipe is this function's text; a changed recipe makes a new base.
recipe_id="$(declare -f make_base | sha256sum | cut -c1-16)"
have_id="$(podman image inspect --format '{{index .Labels "driftgate.base"}}' "$BASE_IMAGE" \
    2>/dev/null || true)"
if [ "$have_id" != "$recipe_id" ]; then
    say "making $BASE_IMAGE with debootstrap from $mirror"
    started=$SECONDS
    make_base "$recipe_id"
    say "base image made in $((SECONDS - started)) s"
else
    say "base image $BASE_IMAGE is current (recipe $recipe_id)"
fi

# --- build every target -------------------------------------------------------------------------
# pip inside the build verifies PyPI's certificate with the host's CA bundle, as a build behind
# a corporate proxy would.
build_times=()
for target in "${TARGETS[@]}"; do
    started=$SECONDS
    # docker format: OCI images drop HEALTHCHECK, which compose relies on.
    podman build --quiet --format docker --isolation chroot --network host --layers \
        -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
        --build-arg PYTHON_IMAGE="$BASE_IMAGE" --target "$target" \
        -t "$PREFIX/$target:$TAG" . >/dev/null
    build_times+=("$target=$((SECONDS - started))")
    say "built $PREFIX/$target:$TAG in $((SECONDS - started)) s"
done

# --- sizes: per image and per layer -------------------------------------------------------------
# Over a budget: named, and a failure with IMAGES_ENFORCE_BUDGET=1.
python scripts/image_sizes.py "${TARGETS[@]/#/$PREFIX/}" --tag "$TAG" --times "${build_times[@]}" \
    ${IMAGES_ENFORCE_BUDGET:+--enforce}

# --- run them for real ----------------------------------------------------------------------
if [ -z "${IMAGES_SKIP_TESTS:-}" ]; then
    say "compose's postgres service is an image only a registry has: the machine's PostgreSQL" \
        "(127.0.0.1:5432, DRIFTGATE_TEST_POSTGRES) stands in for it"
    IMAGE_PREFIX="$PREFIX" IMAGE_TAG="$TAG" DRIFTGATE_IMAGES=1 \
        pytest -q -p no:cacheprovider tests/test_images.py "$@"
fi
