"""sms_spam end to end: the monthly cycle (plain, then a crypto-scam wave), the PR, the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, use_empty_store
from fastapi.testclient import TestClient

from pipeline.config import load_settings
from pipeline.edges.registry import Registry
from pipeline.serving.api import ChampionWatcher, create_app

pytestmark = pytest.mark.slow  # trains text models against a real MLflow store


def test_a_text_model_runs_the_monthly_loop_and_serves(
    project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_empty_store(project, empty_store, monkeypatch, "sms.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{project / 'log.db'}")
    plain = run_cli("run", "--model", "sms_spam", "--period", "2026-10", "--dry-run")
    assert plain.code == 0, plain.stderr
    drifted = run_cli(
        "run", "--model", "sms_spam", "--period", "2026-11", "--simulate-drift", "--dry-run"
    )
    assert drifted.code == 0, drifted.stderr

    out = project / "outputs" / "sms_spam"
    calm = json.loads((out / "2026-10" / "drift.json").read_text())
    assert calm["drift_detected"] is False and calm["features"][0]["kind"] == "text"
    issue = (out / "2026-11" / "issue.md").read_text()
    [verdict] = [line for line in issue.splitlines() if line.startswith("**Drift detected**")]
    assert verdict.startswith("**Drift detected**: 1 of 1 feature drifted (text)")
    assert "New patterns in `text`:" in verdict and "wallet" in verdict
    assert "| domain classifier |" in issue
    retrain = json.loads((out / "2026-11" / "retrain.json").read_text())
    assert retrain["decision"] == "promote"
    pull = (out / "2026-11" / "promotion_pr.md").read_text()
    assert "## Fairness\n\nNot applicable: the model's only input is the message text" in pull
    assert "## Feature importance stability\n\nNot applicable" in pull

    settings = load_settings()
    config = settings.model("sms_spam")
    app = create_app(settings, config, watcher=ChampionWatcher(Registry(settings, config), 3600))
    with TestClient(app) as client:
        spam = {"text": "URGENT! You have won a £1000 prize, call 09061701461 to claim"}
        ham = {"text": "ok see you at the pub tonight"}
        answer = client.post("/predict", json={"records": [spam, ham]})
        assert answer.status_code == 200, answer.text
        scores = [p["score"] for p in answer.json()["predictions"]]
        assert scores[0] > 0.5 > scores[1]
        blank = client.post("/predict", json={"records": [{"text": "   "}]})
        assert blank.status_code == 422
        assert (
            blank.json()["detail"] == "column 'text' in the request is empty (all values missing)"
        )
