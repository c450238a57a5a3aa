"""docker-compose.yml's services run natively: a real ``mlflow server``, the batch service's
cycle steps against it, and the API under uvicorn picking up a promotion without a restart."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from compose import NativeService, interpolate, native_service
from conftest import SMALL

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models

REPO = Path(__file__).resolve().parents[1]


def test_interpolation_follows_compose() -> None:
    env = {"SET": "a", "EMPTY": ""}
    assert interpolate("${SET:-b}/${EMPTY:-c}/${EMPTY-d}/${UNSET:-${SET}x}/$$HOME", env) == (
        "a/c//ax/$HOME"
    )
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        interpolate("${POSTGRES_PASSWORD:?set it}", env)


TOKEN = "test-api-token"


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, Any]]:
    """The checkout as the containers see it, and what compose interpolates from (an .env).

    The compose `postgres` service is the machine's PostgreSQL: a database of this test's own
    holds MLflow's backend store (the server runs its migrations) and the prediction log, as
    in compose, through the same variables an .env file sets.
    """
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "pyproject.toml", checkout)
    shutil.copytree(REPO / "model_cards", checkout / "model_cards")
    env = {
        "DRIFTGATE_HOME": str(checkout),
        "POSTGRES_PASSWORD": "not-used-here",
        "MLFLOW_BACKEND_STORE_URI": postgres_url,
        "DATABASE_URL": postgres_url,
        "PIPELINE_SERVE_RELOAD_SECONDS": "1",
        "PIPELINE_API_TOKEN": TOKEN,
    }
    volumes = {"mlflow-artifacts": tmp_path / "mlartifacts"}
    started: list[NativeService] = []
    yield {"env": env, "volumes": volumes, "checkout": checkout, "started": started}
    # As `docker compose down` does: dependents first. Stopped first, MLflow left the API's
    # registry poll retrying a closed port, and the API's shutdown waited 5 s for it.
    for service in reversed(started):
        service.stop()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _get(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=10) as answer:
        return json.loads(answer.read())


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **AUTH}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_compose_services_natively_train_predict_serve_and_promote(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    env, volumes, checkout = stack["env"], stack["volumes"], stack["checkout"]
    mlflow = native_service("mlflow", env, volumes, {})
    stack["started"].append(mlflow.start(tmp_path / "mlflow.log"))
    mlflow.wait_healthy()
    assert any(a == (tmp_path / "mlartifacts").as_posix() for a in mlflow.argv)

    # The batch service's own command: bootstraps a champion, predicts, detects drift.
    batch = native_service("batch", env, volumes, {"mlflow": mlflow.port}, SMALL)
    assert batch.env["MLFLOW_TRACKING_URI"] == mlflow.url
    done = batch.run()
    assert done.returncode == 0, done.stderr[-3000:]
    cycle = json.loads(done.stdout)
    assert cycle["steps"] == ["predict", "drift"] and cycle["bootstrapped_version"] == 1
    out = Path(cycle["out_dir"])
    assert out.parent.parent == checkout / "outputs" and (out / "drift.json").exists()

    api = native_service("api", env, volumes, {"mlflow": mlflow.port}, SMALL)
    assert api.env["DATABASE_URL"] == env["DATABASE_URL"]
    stack["started"].append(api.start(tmp_path / "api.log"))
    api.wait_healthy()
    records = json.loads(
        pd.read_csv(cycle["batch"]).head(3).drop(columns=["Attrition"]).to_json(orient="records")
    )
    assert _post(f"{api.url}/predict", {"records": records})["model_version"] == 1
    assert _get(f"{api.url}/drift")["period"] == out.name
    with pytest.raises(urllib.error.HTTPError) as refused:  # no token: 401
        urllib.request.urlopen(f"{api.url}/model", timeout=10)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{api.url}/health", timeout=10) as health:  # open to probes
        assert health.status == 200

    # `docker compose run batch train` and `... promote`: the API follows without a restart.
    for command in (("train", "--seed", "1"), ("promote", "--model-version", "2")):
        done = batch.run(*command)
        assert done.returncode == 0, done.stderr[-3000:]
    deadline = 90
    started = time.monotonic()
    while _get(f"{api.url}/model")["version"] != 2:
        assert time.monotonic() - started < deadline, (tmp_path / "api.log").read_text()[-3000:]
        time.sleep(0.5)
    assert _post(f"{api.url}/predict", {"records": records})["model_version"] == 2

    from mlflow.tracking import MlflowClient

    # Both URIs: earlier tests in this process may have set a global registry URI.
    client = MlflowClient(tracking_uri=mlflow.url, registry_uri=mlflow.url)
    assert client.get_model_version_by_alias("attrition", "champion").version == "2"
    assert client.get_model_version_by_alias("attrition", "previous").version == "1"

    # Both live in the test's PostgreSQL database: MLflow's migrated schema and the log.
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        logged = connection.execute(sa.text("SELECT count(*) FROM prediction_log")).scalar()
    engine.dispose()
    assert {"alembic_version", "model_versions", "registered_model_aliases"} <= tables
    assert logged == 2 * len(records)
