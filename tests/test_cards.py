"""Model cards: generated sections rewritten from plain facts, hand-written text left alone."""

from __future__ import annotations

import re

from pipeline.reporting.cards import (
    GENERATED,
    CardFacts,
    PeriodRecord,
    generated_sections,
    new_card,
    parse_card,
    period_records,
    refresh_card,
    render_card,
    section,
)


def hand_written(text: str) -> str:
    """A card's text outside its generated sections and its front matter."""
    body = text.split("\n---\n", 1)[1]
    return re.sub(
        r"<!-- driftgate:begin (\S+) -->.*?<!-- driftgate:end \1 -->", "", body, flags=re.S
    )


def _facts(**changes: object) -> CardFacts:
    facts = CardFacts(
        model="attrition",
        version=3,
        run_id="abc123",
        registered_at="2026-06-02T10:00:00+00:00",
        estimator="logistic_regression",
        train_rows=1200,
        test_rows=300,
        training_data=["training.parquet: 1500 rows", "2026-06: 500 labelled rows"],
        test_metrics={"test_roc_auc": 0.81, "test_f1": 0.52, "test_fairness_Gender_tpr_ratio": 0.9},
        primary_metric="roc_auc",
        features=[{"name": "Age", "kind": "numeric", "role": "feature", "values": "18 to 60"}],
        periods=[
            PeriodRecord("2026-05", 2, "no_drift", 0.0, 0, 0.8, 0.82, 480),
            PeriodRecord("2026-06", 2, "drift", 0.4, 12, 0.66, 0.82, 490),
        ],
        drift_share_threshold=0.3,
        fairness=None,
        fairness_gate=["v3 Gender selection-rate ratio 0.880 passes the fairness gate 0.8"],
        importance=None,
    )
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def test_sections_show_both_periods_in_tables_and_charts() -> None:
    sections = generated_sections(_facts())
    assert set(sections) == set(GENERATED)
    performance = sections["performance"]
    assert "| 2026-05 | v2 | 0.800 | 0.820 | 480 |" in performance
    assert "| 2026-06 | v2 | 0.660 | 0.820 | 490 |" in performance
    assert 'x-axis ["2026-05", "2026-06"]' in performance and "line [0.800, 0.660]" in performance
    drift = sections["drift-history"]
    assert "| 2026-06 | v2 | drift | 40% | 12 |" in drift
    assert "bar [0.000, 0.400]" in drift and "line [0.300, 0.300]" in drift
    training = sections["training-data"]
    assert "training.parquet: 1500 rows; 2026-06: 500 labelled rows" in training
    assert "roc_auc 0.810" in training and "fairness" not in training
    assert "passes the fairness gate 0.8" in sections["fairness"]


def test_a_period_without_labels_is_in_the_drift_history_only() -> None:
    periods = [PeriodRecord("2026-07", 3, "no_drift", 0.1, 1, None, None, None)]
    sections = generated_sections(_facts(periods=periods))
    assert "No monitored period had labels yet" in sections["performance"]
    assert "| 2026-07 | v3 | no_drift | 10% | 1 |" in sections["drift-history"]


def test_refreshing_rewrites_only_generated_sections() -> None:
    card = new_card("attrition", "Who leaves.")
    edited = card.body.replace("Describe who uses the scores", "HR uses the scores")
    card = parse_card(render_card(card).replace(card.body, edited), "card")
    before = render_card(card)
    after = render_card(refresh_card(card, _facts()))
    assert hand_written(after) == hand_written(before)
    assert "HR uses the scores" in after
    for name in GENERATED:
        assert section(refresh_card(card, _facts()).body, name)
    # Idempotent: the same facts give the same text.
    assert render_card(refresh_card(parse_card(after, "card"), _facts())) == after


def test_period_records_keep_each_periods_latest_run_oldest_first() -> None:
    def run(period: str, verdict: str) -> dict[str, object]:
        tags = {"driftgate.period": period, "driftgate.verdict": verdict}
        tags["driftgate.model_version"] = "2"
        return {"tags": tags, "metrics": {"drift_share": 0.5, "champion_roc_auc": 0.7}}

    newest_first = [run("2026-06", "drift"), run("2026-05", "no_drift"), run("2026-06", "old")]
    records = period_records(newest_first, "roc_auc")
    assert [(r.period, r.verdict, r.metric) for r in records] == [
        ("2026-05", "no_drift", 0.7),
        ("2026-06", "drift", 0.7),
    ]
