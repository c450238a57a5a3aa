# syntax=docker/dockerfile:1
# One image family, one target per role: `batch` (the cycle's steps), `api` (pipeline serve)
# and `mlflow` (tracking server and registry). docker-compose.yml builds all three.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install Driftgate and its PostgreSQL driver into a virtualenv ----------------------
FROM ${PYTHON_IMAGE} AS build
# Extras to install: postgres always; spark-connect (the Spark Connect client, no Java) when the
# batch image scores on a Spark cluster (docker-compose.yml passes DRIFTGATE_EXTRAS).
ARG DRIFTGATE_EXTRAS=postgres
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir ".[${DRIFTGATE_EXTRAS}]"

# --- runtime: the virtualenv, the settings and the model cards; no compilers, not root ---------
FROM ${PYTHON_IMAGE} AS runtime
# /mlartifacts exists owned by the user so that a named volume mounted there inherits that.
RUN groupadd --system --gid 10001 driftgate \
    && useradd --system --uid 10001 --gid driftgate --home-dir /app --create-home driftgate \
    && mkdir -p /mlartifacts \
    && chown 10001:10001 /mlartifacts
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIPELINE_CONFIG=/app/pyproject.toml \
    GIT_PYTHON_REFRESH=quiet
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
