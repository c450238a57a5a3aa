"""Months whose labels arrive later: estimated performance now, realized once labels mature.

The attrition model with a one-month label delay: each synthetic month arrives unlabelled, its
labels wait in data/attrition/labels/ and the next month's run ingests them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import run_cli, use_empty_store

from pipeline.config import ModelConfig

pytestmark = pytest.mark.slow  # three monthly cycles on a real MLflow store


@pytest.fixture
def delayed(project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_empty_store(project, empty_store, monkeypatch, "late.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "artifacts"))
    monkeypatch.setenv("PIPELINE_ATTRITION_LABEL_DELAY_MONTHS", "1")
    # Retrain on any drifted feature, so that the drifted month exercises retraining.
    monkeypatch.setenv("PIPELINE_ATTRITION_DRIFT_TRIGGER", "feature")
    return project


def test_labels_that_arrive_a_month_late_feed_the_report_and_the_retraining(
    delayed: Path,
) -> None:
    for period, drift in (("2026-05", []), ("2026-06", []), ("2026-07", ["--simulate-drift"])):
        done = run_cli("run", "--period", period, "--dry-run", *drift)
        assert done.code == 0, done.stderr

    data, outputs = delayed / "data" / "attrition", delayed / "outputs" / "attrition"
    # Each batch arrived without its target; its labels wait beside it.
    assert "Attrition" not in pd.read_csv(data / "2026-07-mixed.csv", nrows=1).columns
    assert sorted(p.name for p in (data / "labels").iterdir()) == [
        "2026-05.csv",
        "2026-06.csv",
        "2026-07.csv",
    ]
    # A month on, each period's labels were ingested: realized next to estimated.
    may = json.loads((outputs / "2026-05" / "performance.json").read_text())
    assert may["labelled_rows"] == 1000 and may["label_files"] == ["2026-05.csv"]
    assert may["estimation_error"] == pytest.approx(
        may["estimated"]["value"] - may["metrics"]["roc_auc"], abs=1e-4
    )
    assert not (outputs / "2026-07" / "performance.json").exists()

    # The drifted month's batch has no labels: no concept drift measured, an estimate instead.
    drift = json.loads((outputs / "2026-07" / "drift.json").read_text())
    assert drift["concept_drift"] is None and drift["estimated_performance"]["method"] == "cbpe"

    # Retraining learned from May and compared both models on June, which neither had seen.
    retrain = json.loads((outputs / "2026-07" / "retrain.json").read_text())
    assert retrain["retrained"] is True
    assert "2000 new labelled rows available" in retrain["trigger"]
    assert retrain["comparison"]["evaluated_on"] == (
        "2026-06's labelled rows (1000), learned by neither model"
    )
    # No month showed a change, so there was one training window: everything matured.
    assert retrain["windows"]["change_period"] is None
    assert [c["window"] for c in retrain["windows"]["candidates"]] == ["window"]
    assert retrain["windows"]["candidates"][0]["periods"] == ["2026-05"]
    assert retrain["training_rows"] == 1500 + 1000

    issue = (outputs / "2026-07" / "issue.md").read_text()
    table = issue.split("## Performance over time")[1].split("## ")[0]
    assert "| 2026-07 | v1 |" in table and "| not yet | 0 | - |" in table
    june = next(line for line in table.splitlines() if line.startswith("| 2026-06 "))
    assert "not yet" not in june and "| 1000 |" in june

    # Running the month again ingests nothing twice.
    again = run_cli("run", "--period", "2026-07", "--dry-run", "--simulate-drift")
    assert again.code == 0, again.stderr
    assert json.loads((outputs / "2026-06" / "performance.json").read_text())["label_files"] == [
        "2026-06.csv"
    ]


@pytest.mark.parametrize("labelled", [True, False])
def test_an_estimated_drop_retrains_only_while_the_months_labels_are_unknown(
    config: ModelConfig, labelled: bool
) -> None:
    from datetime import datetime, timezone

    from pipeline.steps.retrain import should_retrain

    drift: dict[str, Any] = {
        "drift_detected": False,
        "drift_share": 0.0,
        "estimated_performance": {"drop": 0.095},
    }
    if labelled:  # the realized ROC AUC held: it decides, the estimate was wrong
        drift["concept_drift"] = {"metric": "roc_auc", "drop": 0.004, "detected": False}
    now = datetime.now(timezone.utc)
    decision = should_retrain(None, config, drift, 2000, False, now)
    cited = any("estimated ROC AUC dropped" in reason for reason in decision.reasons)
    assert cited is not labelled
