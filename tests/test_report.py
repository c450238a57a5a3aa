from pathlib import Path

import pytest

from pipeline.reporting.report import RunResults, load_results, render_issue, report_banner
from pipeline.results import write_json_atomic

DRIFT = {
    "drift_detected": True,
    "reasons": ["1 of 3 features drifted (MonthlyIncome)"],
    "n_features": 3,
    "n_drifted_features": 1,
    "drift_share": 0.3333,
    "drift_share_threshold": 0.3,
    "per_column_threshold": 0.0167,
    "feature_alpha": 0.05,
    "model_version": 1,
    "features": [
        {
            "name": "MonthlyIncome",
            "test": "ks",
            "score": 1e-9,
            "threshold": 0.0167,
            "drifted": True,
        },
        {"name": "Age", "test": "ks", "score": 0.4, "threshold": 0.0167, "drifted": False},
    ],
    "prediction_drift": None,
    "concept_drift": None,
    "data_quality": {
        "current_rows": 10,
        "reference_rows": 20,
        "sampled_rows": 10,
        "rejected_rows": 0,
        "missing_rates": {},
    },
}


def test_verdict_comes_first_and_drifted_rows_lead_the_table() -> None:
    draft = render_issue(RunResults("attrition", "2026-11", drift=DRIFT))
    first = draft.body.splitlines()[0]
    assert first.startswith("**Drift detected**: 1 of 3 features drifted (MonthlyIncome)")
    assert draft.title == "Drift report: attrition 2026-11"
    assert draft.labels == ["drift-report", "drift-detected", "attrition"]
    table = [line for line in draft.body.splitlines() if line.startswith("| ")]
    assert table[2].startswith("| MonthlyIncome | ks |") and table[2].endswith("**yes** |")
    assert draft.body.rstrip().endswith(
        "<!-- driftgate:drift-report model=attrition period=2026-11 -->"
    )


def test_history_chart_covers_earlier_periods(tmp_path: Path) -> None:
    for period, share in (("2026-09", 0.0), ("2026-10", 0.1), ("2026-11", 0.3333)):
        write_json_atomic(
            tmp_path / period / "drift.json",
            {**DRIFT, "drift_share": share, "drift_detected": share > 0},
        )
    later = tmp_path / "2026-12"
    later.mkdir()
    body = render_issue(load_results(tmp_path / "2026-11", "attrition", "2026-11")).body
    assert 'x-axis ["2026-09", "2026-10", "2026-11"]' in body
    assert "bar [0, 10, 33]" in body
    assert "2026-12" not in body


def test_concept_section_shows_the_decision_metrics_that_moved_while_roc_auc_held() -> None:
    concept = {
        "metric": "roc_auc",
        "reference": 0.97,
        "current": 0.966,
        "drop": 0.004,
        "threshold": 0.05,
        "detected": False,
        "labelled_rows": 2000,
        "at_threshold": {"recall": {"reference": 0.612, "current": 0.427}},
    }
    body = render_issue(
        RunResults("sms_spam", "2026-11", drift={**DRIFT, "concept_drift": concept})
    ).body
    assert "Concept drift not detected: champion roc_auc 0.966" in body
    assert "(change -0.004; a drop of 0.05 or more counts)" in body
    assert "At the decision threshold: recall 0.427 (0.612 at training, -0.185)." in body


@pytest.mark.parametrize(
    ("trigger", "rule"),
    [("dataset", "drift alone retrains at 30% of the features drifted"),
     ("feature", "drift alone retrains on any detected drift")],
)  # fmt: skip
def test_the_issue_and_the_report_state_the_retrain_rule_the_setting_chose(
    trigger: str, rule: str
) -> None:
    drift = {**DRIFT, "drift_share_threshold": 0.3, "drift_trigger": trigger}
    assert rule in render_issue(RunResults("attrition", "2026-11", drift=drift)).body
    assert rule in report_banner(drift)
