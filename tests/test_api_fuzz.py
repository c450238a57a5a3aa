"""The API fuzzed from its own OpenAPI schema (Schemathesis): no 5xx, no traceback, ever.

Every operation the schema lists is called with generated requests (with the bearer token)
against the app in process, on a registry with a trained champion.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import use_trained_store
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from pipeline.config import load_settings
from pipeline.edges.registry import Registry
from pipeline.serving.api import ChampionWatcher, create_app

pytestmark = pytest.mark.slow  # a trained registry, and hundreds of requests

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Requests per operation and mode; an operation without parameters has one request to make.
EXAMPLES = {("/predict", "POST"): 200, ("/model", "GET"): 5, ("/drift", "GET"): 5}
EXAMPLES[("/health", "GET")] = 5
sent: list[int] = []


@pytest.fixture
def app(project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "fuzz.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{project / 'log.db'}")
    config_settings = load_settings()
    config = config_settings.model("attrition")
    watcher = ChampionWatcher(Registry(config_settings, config), 3600)
    app = create_app(config_settings, config, watcher=watcher, token=TOKEN)
    with TestClient(app):  # runs the lifespan: the champion is loaded
        yield app


def test_generated_requests_never_meet_a_server_error(app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    listed = {(op.path, op.method.upper()) for op in _operations(schema)}
    assert listed == set(EXAMPLES), listed  # a new endpoint must be fuzzed too
    for (path, method), examples in EXAMPLES.items():
        operation = schema[path][method]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(headers=AUTH)
            sent.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])
            assert "Traceback" not in response.text and 'File "' not in response.text

        call()
    # And bodies the schema forbids (wrong types, unknown levels, out of range, missing
    # columns): answered 4xx with one line each, never 5xx.
    refused: list[int] = []

    @given(case=schema["/predict"]["POST"].as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @settings(
        max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def call_badly(case: Any) -> None:
        response = case.call(headers=AUTH)
        case.validate_response(response, checks=[not_a_server_error])
        assert "Traceback" not in response.text
        if response.status_code < 400 and body_schema.is_valid(case.body):
            # A negative case whose mutation is not in the body (a header, the media type):
            # the body itself is one the schema allows, and scoring it is right.
            allowed.append(response.status_code)
            return
        refused.append(response.status_code)
        if response.status_code < 400:
            accepted.append(case.body)

    body_schema = _request_body_validator(app)
    allowed: list[int] = []
    accepted: list[Any] = []
    call_badly()
    print(f"\n{len(refused)} forbidden bodies: statuses {sorted(set(refused))}")
    assert not accepted, f"bodies the schema forbids were scored: {accepted[:3]}"
    assert len(refused) >= 70 and all(400 <= status < 500 for status in refused)
    refused.extend(allowed)
    sent.extend(refused)
    scored = sent.count(200)
    print(f"\n{len(sent)} generated requests, {scored} scored by the model; {sorted(set(sent))}")
    assert len(sent) >= 280 and all(status < 500 for status in sent)
    # The typed schema (every feature, its type, levels and range) lets the generator build
    # records the model scores, not only bodies it rejects.
    assert scored >= 100


def _request_body_validator(app: Any) -> Any:
    """The published schema of ``POST /predict``'s body, as a JSON Schema validator."""
    from jsonschema import Draft202012Validator

    spec = app.openapi()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    return Draft202012Validator({**body["schema"], "components": spec.get("components", {})})


def test_the_schema_names_every_feature_with_its_type(app: Any) -> None:
    spec = app.openapi()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    record = body["schema"]["oneOf"][0]["properties"]["records"]["items"]
    config = load_settings().model("attrition")
    assert set(record["required"]) == set(config.features)
    assert record["properties"]["OverTime"] == {
        "type": "string",
        "enum": ["No", "Yes"],
        "description": "feature (categorical)",
    }
    age = record["properties"]["Age"]
    assert age["type"] == "integer" and age["minimum"] == 14 and age["maximum"] == 100


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()
