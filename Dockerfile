# syntax=docker/dockerfile:1
# One image family, one target per role: `batch` (the cycle's steps), `api` (pipeline serve)
# and `mlflow` (tracking server and registry). docker-compose.yml builds all three;
# scripts/images.sh builds and runs them with podman (no Docker engine, no registry).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- requirements: what pyproject.toml asks for, with the extras -------------------------------
# A stage of its own so that the dependency layer below is keyed on this list only: a change to
# the settings in pyproject.toml, or to the code, does not reinstall the dependencies.
FROM ${PYTHON_IMAGE} AS requirements
# Extras to install: postgres always; spark-connect (the Spark Connect client, no Java) when the
# batch image scores on a Spark cluster (docker-compose.yml passes DRIFTGATE_EXTRAS).
ARG DRIFTGATE_EXTRAS=postgres
WORKDIR /src
COPY pyproject.toml docker/requirements.py ./
RUN python requirements.py pyproject.toml "${DRIFTGATE_EXTRAS}" > /requirements.txt

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

# --- runtime: the dependencies, Driftgate, the settings and the model cards; not root ---------
FROM ${PYTHON_IMAGE} AS runtime
# /mlartifacts exists owned by the user so that a named volume mounted there inherits that.
RUN groupadd --system --gid 10001 driftgate \
    && useradd --system --uid 10001 --gid driftgate --home-dir /app --create-home driftgate \
    && mkdir -p /mlartifacts \
    && chown 10001:10001 /mlartifacts
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIPELINE_CONFIG=/app/pyproject.toml \
    GIT_PYTHON_REFRESH=quiet
# The dependencies are installed here, in this stage, not copied from another: a builder then
# reuses the layer from the list alone, without checksumming a gigabyte of files to see it is
# unchanged (podman took 29 s to). What no run needs stays out: the numerical packages' own
# test suites (150 MB) and pip's cache.
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && for package in numpy scipy pandas sklearn pyarrow matplotlib statsmodels graphene; do \
        where="/opt/venv/lib/python3.11/site-packages/$package"; \
        if [ -d "$where" ]; then find "$where" -depth -type d -name tests -exec rm -rf {} +; fi; \
    done
ENV PATH=/opt/venv/bin:$PATH
# Driftgate itself: the only layers a code change rebuilds (a few hundred kB).
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels
WORKDIR /app
COPY --chown=driftgate:driftgate pyproject.toml ./
COPY --chown=driftgate:driftgate model_cards ./model_cards
USER 10001:10001

# --- batch: `docker compose run batch <pipeline command>` --------------------------------------
FROM runtime AS batch
ENTRYPOINT ["pipeline"]
CMD ["run", "--steps", "predict,drift", "--dry-run"]

# --- api: the champion over HTTP --------------------------------------------------------------
FROM runtime AS api
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["pipeline"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# --- mlflow: tracking server and registry (backend store from MLFLOW_BACKEND_STORE_URI) --------
FROM runtime AS mlflow
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
ENTRYPOINT ["mlflow"]
CMD ["server", "--host", "0.0.0.0", "--port", "5000", "--serve-artifacts", "--artifacts-destination", "/mlartifacts"]
