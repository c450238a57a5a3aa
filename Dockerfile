# syntax=docker/dockerfile:1
# One image family, one target per role: `batch` (the cycle's steps), `api` (pipeline serve)
# and `mlflow` (tracking server and registry). docker-compose.yml builds all three;
# scripts/images.sh builds and runs them with podman (no Docker engine, no registry).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- requirements: each image's pinned list, exported from uv.lock ---------------------------
# A stage of its own so that the dependency layers below are keyed on these lists only: a change
# to the settings in pyproject.toml, or to the code, reinstalls nothing.
FROM ${PYTHON_IMAGE} AS requirements
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# uv reads the lock; the version scripts/bootstrap.sh uses (tests/test_lock.py compares them).
ARG UV_VERSION=0.13.9
RUN python -m venv /opt/uv && /opt/uv/bin/pip install --quiet --no-cache-dir "uv==${UV_VERSION}"
# Extras of the batch image: postgres always; spark-connect (the Spark Connect client, no Java)
# when it scores on a Spark cluster (docker-compose.yml passes DRIFTGATE_EXTRAS).
ARG DRIFTGATE_EXTRAS=postgres
WORKDIR /src
COPY pyproject.toml uv.lock docker/requirements.sh ./
RUN UV=/opt/uv/bin/uv sh requirements.sh "${DRIFTGATE_EXTRAS}" /

# --- wheel: Driftgate itself, built apart so that the build tools stay out of the image ---------
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# The build tools in a layer of their own: a code change does not download them again.
RUN python -m venv /tmp/build \
    && /tmp/build/bin/pip install --no-cache-dir "setuptools>=68" wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
RUN /tmp/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# --- user: what every image shares; not root -----------------------------------------------------
FROM ${PYTHON_IMAGE} AS user
# /mlartifacts exists owned by the user so that a named volume mounted there inherits that.
RUN groupadd --system --gid 10001 driftgate \
    && useradd --system --uid 10001 --gid driftgate --home-dir /app --create-home driftgate \
    && mkdir -p /mlartifacts \
    && chown 10001:10001 /mlartifacts
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIPELINE_CONFIG=/app/pyproject.toml \
    GIT_PYTHON_REFRESH=quiet \
    PATH=/opt/venv/bin:$PATH
COPY docker/install.sh /usr/local/bin/driftgate-install
COPY scripts/warm_bytecode.py /usr/local/lib/driftgate/warm_bytecode.py

# The dependencies are installed in each image's own stage, not copied from another: a builder
# then reuses the layer from the list alone, without checksumming a gigabyte of files to see it
# is unchanged (podman took 29 s to).
FROM user AS batch-dependencies
COPY --from=requirements /batch.txt /tmp/requirements.txt
RUN driftgate-install requirements /tmp/requirements.txt imported && rm /tmp/requirements.txt

FROM user AS api-dependencies
COPY --from=requirements /api.txt /tmp/requirements.txt
RUN driftgate-install requirements /tmp/requirements.txt imported && rm /tmp/requirements.txt

# --- Driftgate on its dependencies: the only layers a code change rebuilds (a few hundred kB) ---
FROM batch-dependencies AS batch-runtime
COPY --from=wheel /wheels /tmp/wheels
RUN driftgate-install wheels /tmp/wheels && rm -rf /tmp/wheels
WORKDIR /app
COPY --chown=driftgate:driftgate pyproject.toml ./
COPY --chown=driftgate:driftgate model_cards ./model_cards
USER 10001:10001

FROM api-dependencies AS api-runtime
COPY --from=wheel /wheels /tmp/wheels
RUN driftgate-install wheels /tmp/wheels && rm -rf /tmp/wheels
WORKDIR /app
COPY --chown=driftgate:driftgate pyproject.toml ./
COPY --chown=driftgate:driftgate model_cards ./model_cards
USER 10001:10001

# --- batch: `docker compose run batch <pipeline command>` --------------------------------------
FROM batch-runtime AS batch
ENTRYPOINT ["pipeline"]
CMD ["run", "--steps", "predict,drift", "--dry-run"]

# --- api: the champion over HTTP --------------------------------------------------------------
FROM api-runtime AS api
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["pipeline"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# --- mlflow: tracking server and registry (backend store from MLFLOW_BACKEND_STORE_URI) --------
FROM user AS mlflow
COPY --from=requirements /mlflow.txt /tmp/requirements.txt
RUN driftgate-install requirements /tmp/requirements.txt all && rm /tmp/requirements.txt
WORKDIR /app
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
ENTRYPOINT ["mlflow"]
CMD ["server", "--host", "0.0.0.0", "--port", "5000", "--serve-artifacts", "--artifacts-destination", "/mlartifacts"]
