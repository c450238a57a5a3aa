"""The images, run for real with podman: what the workflows run through docker compose.

``bash scripts/images.sh`` builds the batch, api and mlflow images and then runs this module
(``DRIFTGATE_IMAGES=1``); elsewhere it skips. The compose file's ``postgres`` service is an
image only a registry has: the machine's own PostgreSQL stands in for it, on the host network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("DRIFTGATE_IMAGES") != "1",
        reason="the images are built and run by `bash scripts/images.sh`",
    ),
]

PREFIX = os.environ.get("IMAGE_PREFIX", "localhost/driftgate")
TAG = os.environ.get("IMAGE_TAG", "local")
IMAGE_UID = 10001  # the Dockerfile's user
TOKEN = "images-test-token"


def image(target: str) -> str:
    return f"{PREFIX}/{target}:{TAG}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(1)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout as the workflow mounts it: the settings and the model cards, owned by the
    image's user so that its steps can write outputs/ and the SQLite registry."""
    folder = tmp_path_factory.mktemp("workspace")
    shutil.copy(REPO / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(REPO / "model_cards", folder / "model_cards")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    return folder


@pytest.fixture(scope="module")
def batch_run(workspace: Path) -> Path:
    """`podman-compose run --rm --no-deps batch`: the compose file's batch service, default
    command (bootstrap a champion, predict, check drift), on the embedded defaults."""
    env = {
        **os.environ,
        "IMAGE_PREFIX": PREFIX,
        "IMAGE_TAG": TAG,
        "DRIFTGATE_WORKSPACE": str(workspace),
        "MLFLOW_TRACKING_URI": "sqlite:////app/mlruns.db",
        # Compose refuses the file without the variables it marks required, even for one service.
        "POSTGRES_PASSWORD": "unused-by-batch",
        "PIPELINE_API_TOKEN": TOKEN,
    }
    done = subprocess.run(
        [sys.executable, "-m", "podman_compose", "-f", str(REPO / "docker-compose.yml"), "run"]
        + ["--rm", "--no-deps"]
        + ["batch"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workspace


def test_compose_batch_scores_and_checks_drift_into_the_mounted_workspace(
    batch_run: Path,
) -> None:
    periods = sorted(p for p in (batch_run / "outputs" / "attrition").iterdir() if p.is_dir())
    assert len(periods) == 1
    out = periods[0]
    predict = json.loads((out / "predict.json").read_text())
    drift = json.loads((out / "drift.json").read_text())
    assert predict["scored_rows"] > 0 and predict["model_version"] == 1
    assert drift["model"] == "attrition" and drift["n_features"] == 30
    # Written by the container's non-root user, and readable afterwards by anyone.
    for written in (out / "predict.json", out / "drift.json", batch_run / "mlruns.db"):
        assert written.stat().st_uid == IMAGE_UID, written
        assert written.stat().st_mode & 0o004, f"{written} is not world-readable"


@pytest.fixture
def api(batch_run: Path, postgres_url: str) -> Iterator[str]:
    """The api image serving the champion the batch run registered, its prediction log on the
    machine's PostgreSQL (as compose's api logs to its postgres service)."""
    port = free_port()
    name = f"driftgate-api-{uuid.uuid4().hex[:8]}"
    podman(
        "run",
        "-d",
        "--name",
        name,
        "-v",
        f"{batch_run}:/app",
        "-e",
        "MLFLOW_TRACKING_URI=sqlite:////app/mlruns.db",
        "-e",
        f"PIPELINE_API_TOKEN={TOKEN}",
        "-e",
        f"DATABASE_URL={postgres_url}",
        image("api"),
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        logs = podman("logs", name, check=False)
        podman("rm", "-f", name, check=False)
        print(logs.stdout[-2000:], logs.stderr[-2000:])


def test_the_api_image_answers_health_a_prediction_and_the_dashboard(
    api: str, batch_run: Path
) -> None:
    import pandas as pd

    batch = next((batch_run / "data" / "attrition").glob("*.csv"))
    record = pd.read_csv(batch).drop(columns=["Attrition"], errors="ignore").iloc[0]
    body = json.dumps({"records": [json.loads(record.to_json())]}).encode()

    def post(token: str | None) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{api}/predict", body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, {}

    assert post(None)[0] == 401
    status, answer = post(TOKEN)
    assert status == 200, answer
    predictions = answer["predictions"]
    assert isinstance(predictions, list) and len(predictions) == 1
    assert answer["model_version"] == 1
    # The dashboard it serves is built inside the image from the batch run's results.
    dashboard = urllib.request.Request(
        f"{api}/dashboard/index.html", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(dashboard, timeout=120) as page:
        assert page.status == 200
        assert "attrition" in page.read().decode()


def test_the_mlflow_image_registers_and_reads_a_model_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    port = free_port()
    name = f"driftgate-mlflow-{uuid.uuid4().hex[:8]}"
    before = mlflow.get_tracking_uri()
    podman(
        "run",
        "-d",
        "--name",
        name,
        image("mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        postgres_url,
        "--serve-artifacts",
        "--artifacts-destination",
        "/mlartifacts",
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{uri}/health")
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("images-test")
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(model, name="model", registered_model_name="images-test")
        version = client.get_model_version("images-test", "1")
        assert version.status == "READY"
        loaded = mlflow.sklearn.load_model("models:/images-test/1", dst_path=str(tmp_path))
        assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]
    finally:
        mlflow.set_tracking_uri(before)
        logs = podman("logs", name, check=False)
        podman("rm", "-f", name, check=False)
        print(logs.stdout[-2000:], logs.stderr[-2000:])
