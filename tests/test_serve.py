"""The serving API in process: predictions, 422s naming the column, the log, hot reload."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import files_in, run_cli, use_empty_store, use_trained_store
from fastapi.testclient import TestClient

from pipeline.config import ModelConfig, Settings, load_settings
from pipeline.edges.predlog import PredictionLog
from pipeline.edges.registry import Registry
from pipeline.serving.api import ChampionWatcher, create_app
from pipeline.steps.promote import promote_step
from pipeline.steps.train import generate_batch, train_step

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models


@pytest.fixture
def served(
    project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, ModelConfig]]:
    """Its own registry with one trained champion, and the API's log in the project folder."""
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "serve.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{project / 'log.db'}")
    settings = load_settings()
    config = settings.model("attrition")
    yield settings, config


def _records(settings: Settings, config: ModelConfig, rows: int, seed: int = 7) -> list[Any]:
    path = generate_batch(
        settings,
        config,
        settings.path(settings.data_dir) / f"api-{seed}.csv",
        rows,
        seed,
        labels=False,
    )
    return json.loads(pd.read_csv(path).to_json(orient="records"))


def _client(settings: Settings, config: ModelConfig, interval: float = 3600) -> TestClient:
    watcher = ChampionWatcher(Registry(settings, config), interval)
    return TestClient(create_app(settings, config, watcher=watcher))


def test_predict_scores_records_and_logs_every_one(
    served: tuple[Settings, ModelConfig],
) -> None:
    settings, config = served
    records = _records(settings, config, 5)
    with _client(settings, config) as client:
        response = client.post("/predict", json={"records": records})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "attrition" and body["model_version"] == 1
        assert len(body["predictions"]) == 5
        first = body["predictions"][0]
        assert 0.0 <= first["score"] <= 1.0 and isinstance(first["predicted"], bool)
        assert first["EmployeeNumber"] == records[0]["EmployeeNumber"]
        # A bare list of records is accepted too.
        assert client.post("/predict", json=records[:2]).status_code == 200
        assert client.get("/health").json() == {"status": "ok", "model": "attrition", "version": 1}
        model = client.get("/model").json()
        assert model["version"] == 1 and "champion" in model["aliases"]
        assert model["metrics"]["test_roc_auc"] > 0.7
    log = PredictionLog(settings.prediction_log)
    assert log.count("attrition") == 7
    window = log.window("attrition", days=1)
    assert list(window["Age"][:5]) == [r["Age"] for r in records]
    log.close()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda rs: [r.pop("Age") for r in rs], "missing column(s) 'Age'"),
        (lambda rs: rs[1].pop("Age"), "the first is row 2: missing Age"),
        (lambda rs: rs[1].update(OverTime="Maybe"), "column 'OverTime' in the request has level"),
        (lambda rs: rs[1].update(MonthlyIncome="a lot"), "column 'MonthlyIncome' in the request"),
        (lambda rs: rs[1].update(DistanceFromHome=-40), "row 2: DistanceFromHome outside"),
        (lambda rs: rs[1].update(Age=47.5), "row 2: Age not a whole number"),
    ],
    ids=[
        "missing-column",
        "missing-value",
        "unseen-level",
        "wrong-type",
        "out-of-range",
        "fraction",
    ],
)
def test_bad_records_get_422_naming_the_column_and_nothing_is_logged(
    served: tuple[Settings, ModelConfig], change: Any, message: str
) -> None:
    settings, config = served
    records = _records(settings, config, 3)
    change(records)
    with _client(settings, config) as client:
        response = client.post("/predict", json={"records": records})
        assert response.status_code == 422
        assert message in response.json()["detail"]
        assert client.post("/predict", json={"rows": []}).status_code == 422
        assert client.post("/predict", json={"records": []}).json()["detail"] == (
            "the request has no records"
        )
    assert PredictionLog(settings.prediction_log).count() == 0


def test_drift_endpoint_and_drift_from_the_prediction_log(
    served: tuple[Settings, ModelConfig],
) -> None:
    settings, config = served
    with _client(settings, config) as client:
        assert client.get("/drift").status_code == 404
        empty = run_cli("drift", "--from-log", "--days", "1", "--out", "empty")
        assert empty.code == 3
        assert "has no predictions of model 'attrition' in the last 1 day(s)" in empty.stderr
        assert files_in(settings.project_root / "empty") == []
        stray = run_cli("drift", "--current", "batch.csv", "--days", "7", "--out", "stray")
        assert (
            stray.code == 3 and stray.stderr.strip() == "error: --days applies to --from-log only"
        )
        assert files_in(settings.project_root / "stray") == []

        for offset in range(0, 300, 100):
            records = _records(settings, config, 100, seed=offset)
            assert client.post("/predict", json={"records": records}).status_code == 200
        result = run_cli("drift", "--from-log", "--days", "7")
        assert result.code == 0, result.stderr
        drift = json.loads(result.stdout)
        assert drift["drift_detected"] is False
        out = Path(drift["current"]).parent
        assert out.name.startswith("api-") and (out / "drift.json").exists()
        latest = client.get("/drift").json()
        assert latest["current"] == drift["current"] and latest["period"] == out.name


def test_a_promotion_is_served_without_a_restart(
    served: tuple[Settings, ModelConfig],
) -> None:
    settings, config = served
    records = _records(settings, config, 2)
    with _client(settings, config, interval=0.2) as client:
        assert client.post("/predict", json={"records": records}).json()["model_version"] == 1
        train_step(settings, config, None, seed=1)
        promote_step(settings, config, version=2, reason="test")
        deadline = time.monotonic() + 60
        while client.get("/model").json()["version"] != 2:
            assert time.monotonic() < deadline, "the API never picked up version 2"
            time.sleep(0.2)
        answer = client.post("/predict", json={"records": records}).json()
        assert answer["model_version"] == 2
        model = client.get("/model").json()
        assert model["promotion_reason"] == "test" and model["promoted_at"]


def test_no_champion_yet_is_a_503_not_a_crash(
    project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_empty_store(project, empty_store, monkeypatch, "empty.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{project / 'log.db'}")
    settings = load_settings()
    config = settings.model("attrition")
    with _client(settings, config) as client:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["detail"] == "model 'attrition' has no champion yet"
        assert client.post("/predict", json={"records": [{"Age": 30}]}).status_code == 503


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_under_concurrent_load_every_record_is_logged_once_and_read_back(
    request: pytest.FixtureRequest,
    project: Path,
    trained_stores: Path,
    monkeypatch: pytest.MonkeyPatch,
    database: str,
) -> None:
    """Many clients at once: each answered record is in the log exactly once, on either store."""
    from concurrent.futures import ThreadPoolExecutor

    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "load.db")
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgresql"
        else f"sqlite:///{project / 'log.db'}"
    )
    monkeypatch.setenv("DATABASE_URL", url)
    settings = load_settings()
    config = settings.model("attrition")
    records = _records(settings, config, 400)
    batches = [records[i : i + 5] for i in range(0, len(records), 5)]  # 80 requests
    with _client(settings, config) as client:

        def post(batch: list[Any]) -> str:
            response = client.post("/predict", json={"records": batch})
            assert response.status_code == 200, response.text
            return str(response.json()["request_id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            request_ids = list(pool.map(post, batches))
    assert len(set(request_ids)) == len(batches)
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        per_request = dict(
            connection.execute(
                sa.text("SELECT request_id, count(*) FROM prediction_log GROUP BY request_id")
            ).all()
        )
    engine.dispose()
    assert per_request == {rid: 5 for rid in request_ids}  # none lost, none doubled
    result = run_cli("drift", "--from-log", "--days", "1")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["data_quality"]["current_rows"] == len(records)


def test_the_token_guards_every_endpoint_but_health(
    served: tuple[Settings, ModelConfig],
) -> None:
    settings, config = served
    watcher = ChampionWatcher(Registry(settings, config), 3600)
    app = create_app(settings, config, watcher=watcher, token="s3cret-token")
    records = _records(settings, config, 2)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        for method, path in (("get", "/model"), ("get", "/drift"), ("get", "/openapi.json")):
            answer = getattr(client, method)(path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        wrong = client.post(
            "/predict", json={"records": records}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401 and "Bearer <PIPELINE_API_TOKEN>" in wrong.text
        right = client.post(
            "/predict", json={"records": records}, headers={"Authorization": "Bearer s3cret-token"}
        )
        assert right.status_code == 200
    assert PredictionLog(settings.prediction_log).count() == 2  # the refused one logged nothing


def test_limits_answer_413_in_one_line_and_logs_hold_no_record_value(
    served: tuple[Settings, ModelConfig],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PIPELINE_SERVE_MAX_RECORDS", "3")
    monkeypatch.setenv("PIPELINE_SERVE_MAX_BODY_MB", "0.01")  # about 10 kB
    settings = load_settings()
    config = settings.model("attrition")
    records = _records(settings, config, 4)
    caplog.set_level("DEBUG")
    with _client(settings, config) as client:
        many = client.post("/predict", json={"records": records})
        assert many.status_code == 413
        assert many.json()["detail"] == (
            "the request has 4 records; at most 3 per call (serve_max_records)"
        )
        big = client.post("/predict", content=b"[" + b" " * 20000 + b"]")
        assert big.status_code == 413 and "at most 0.01 MB" in big.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(30):
                yield b" " * 1000

        streamed = client.post("/predict", content=chunks())
        assert streamed.status_code == 413
        empty = client.post("/predict", json={"records": [{}]})
        assert empty.status_code == 422 and "missing column(s)" in empty.json()["detail"]
        odd = [dict(records[0], MonthlyIncome="secret-income-value")]
        assert client.post("/predict", json={"records": odd}).status_code == 422
    assert PredictionLog(settings.prediction_log).count() == 0
    assert "secret-income-value" not in caplog.text


def test_concurrent_requests_are_batched_and_a_bad_one_fails_alone(
    served: tuple[Settings, ModelConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scored together, answered apart: a neighbour's bad record is its own 422."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.edges.predlog import PredictionLog as Log

    monkeypatch.setenv("PIPELINE_SERVE_BATCH_WINDOW_MS", "20")  # wide: batches surely form
    settings = load_settings()
    config = settings.model("attrition")
    records = _records(settings, config, 60)
    bodies = [records[i : i + 3] for i in range(0, 60, 3)]  # 20 requests
    bodies[7] = [dict(bodies[7][0], OverTime="Maybe")] + bodies[7][1:]
    calls: list[int] = []
    real = Log.append_requests

    def counted(self: Log, requests: list[Any]) -> int:
        calls.append(len(requests))
        return real(self, requests)

    monkeypatch.setattr(Log, "append_requests", counted)
    with _client(settings, config) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(lambda body: client.post("/predict", json={"records": body}), bodies)
            )
    statuses = [a.status_code for a in answers]
    assert statuses[7] == 422 and "column 'OverTime' in the request" in answers[7].text
    assert statuses.count(200) == 19
    for body, reply in zip(bodies, answers):
        if reply.status_code == 200:  # each answer is its own request's, in its order
            ids = [p["EmployeeNumber"] for p in reply.json()["predictions"]]
            assert ids == [r["EmployeeNumber"] for r in body]
    assert PredictionLog(settings.prediction_log).count() == 57  # 19 x 3, once each
    assert sum(calls) == 19 and len(calls) < 19  # fewer transactions than requests


def test_with_serve_shadow_the_kept_challenger_scores_beside_and_both_are_logged(
    served: tuple[Settings, ModelConfig],
) -> None:
    settings, config = served
    registry = Registry(settings, config)
    shadow = train_step(settings, config, None, seed=3)  # registered as challenger
    registry.tag_version(shadow.version, "driftgate.decision", "keep")
    records = _records(settings, config, 4)
    watcher = ChampionWatcher(registry, 3600, shadow=True)
    with TestClient(create_app(settings, config, watcher=watcher)) as client:
        body = client.post("/predict", json={"records": records}).json()
    assert body["model_version"] == 1  # the answer is the champion's
    expected = registry.load_model(registry.version(shadow.version)).predict_proba(
        pd.DataFrame(records)[list(config.features)]
    )[:, 1]
    log = PredictionLog(settings.prediction_log)
    import sqlalchemy as sa

    with log._engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT score, shadow_version, shadow_score FROM prediction_log ORDER BY id")
        ).fetchall()
    log.close()
    assert [r.shadow_version for r in rows] == [shadow.version] * 4
    assert [r.shadow_score for r in rows] == pytest.approx(list(expected), abs=1e-6)
    assert [r.score for r in rows] == [p["score"] for p in body["predictions"]]


def test_an_answer_comes_only_after_its_records_are_committed_and_a_failed_write_is_a_503(
    served: tuple[Settings, ModelConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring and writing overlap (the log has its own thread), but no request is answered
    before its rows are in the log, and none is answered at all when writing them fails."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.edges.predlog import PredictionLog as Log
    from pipeline.edges.predlog import PredictionLogError

    settings, config = served
    records = _records(settings, config, 40)
    bodies = [records[i : i + 2] for i in range(0, 40, 2)]  # 20 requests
    committed: set[str] = set()
    broken = {"now": False}
    real = Log.append_requests

    def append(self: Log, requests: list[Any]) -> int:
        if broken["now"]:
            raise PredictionLogError("writing to the prediction log at test failed: disk full")
        time.sleep(0.01)  # a slow disk: scoring goes on meanwhile
        written = real(self, requests)
        committed.update(request.request_id for request in requests)
        return written

    monkeypatch.setattr(Log, "append_requests", append)

    def post(body: list[Any]) -> Any:
        response = client.post("/predict", json={"records": body})
        if response.status_code == 200:  # committed before the answer left
            assert response.json()["request_id"] in committed
        return response

    with _client(settings, config) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(post, bodies))
        assert [a.status_code for a in answers] == [200] * 20
        broken["now"] = True
        failed = client.post("/predict", json={"records": records[:3]})
    assert failed.status_code == 503
    assert failed.json() == {"detail": "writing to the prediction log at test failed: disk full"}
    assert PredictionLog(settings.prediction_log).count() == 40


def test_a_poll_that_finds_the_same_champion_asks_only_for_its_version_number(
    served: tuple[Settings, ModelConfig],
) -> None:
    """The watcher polls every few seconds beside the requests: an unchanged champion costs one
    registry query, and a promotion is still found."""
    from collections import Counter

    settings, config = served

    class Counted:
        def __init__(self, real: Registry) -> None:
            self.real, self.calls = real, Counter[str]()

        def __getattr__(self, name: str) -> Any:
            self.calls[name] += 1
            return getattr(self.real, name)

    registry = Counted(Registry(settings, config))
    watcher = ChampionWatcher(registry, 3600)  # type: ignore[arg-type]
    assert watcher.refresh() is True
    registry.calls.clear()
    assert [watcher.refresh() for _ in range(3)] == [False, False, False]
    assert registry.calls == Counter({"alias_version": 3})
    train_step(settings, config, None, seed=1)
    promote_step(settings, config, version=2, reason="test")
    assert watcher.refresh() is True
    assert watcher.served is not None and watcher.served.info.version == 2
