"""Every candidate estimator survives the round trip through the MLflow registry."""

from __future__ import annotations

import pytest
from conftest import run_cli

from pipeline.config import load_settings
from pipeline.edges.registry import Registry

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models


@pytest.mark.parametrize(
    "candidate", ["logistic_regression", "random_forest", "hist_gradient_boosting"]
)
def test_each_candidate_is_registered_and_loads_back(
    project: object, monkeypatch: pytest.MonkeyPatch, candidate: str
) -> None:
    monkeypatch.setenv("PIPELINE_MACHINE_FAILURE_CANDIDATES", candidate)
    trained = run_cli("train", "--model", "machine_failure")
    assert trained.code == 0, trained.stderr
    settings = load_settings()
    config = settings.model("machine_failure")
    registry = Registry(settings, config)
    version = registry.versions()[0]
    assert version.params["estimator"] == candidate
    frame = registry.load_reference(version)[config.features].head(5)
    scores = registry.load_model(version).predict_proba(frame)[:, 1]
    assert len(scores) == 5 and ((scores >= 0) & (scores <= 1)).all()
