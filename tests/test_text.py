"""Text models: the text column kind, synthetic messages, text drift and the sms_spam model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

from pipeline.config import ColumnSpec, load_settings
from pipeline.errors import ConfigError
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.monitoring.estimation import PerformanceEstimator
from pipeline.monitoring.text import TextDrift

SETTINGS = load_settings(REPO / "pyproject.toml", {})
SMS = SETTINGS.model("sms_spam")


def test_text_is_validated_like_any_column() -> None:
    frame = pd.DataFrame(
        {"text": ["hello there", "   ", None, "x" * 2001, 12345], "label": ["ham"] * 5}
    )
    batch = validate_batch(frame, SMS, "batch.csv")
    assert batch.rejected_rows == 3
    assert batch.rejection_reasons == {"missing text": 2, "text longer than 2000": 1}
    assert batch.frame["text"].iloc[4] == "12345"  # a number is text too
    assert SMS.text_only and SMS.text_features == ["text"]


def test_text_settings_are_checked(tmp_path: Path) -> None:
    text = (REPO / "pyproject.toml").read_text()
    bad = text.replace(
        'text = { kind = "text", max_length = 2000 }', 'text = { kind = "text", max_length = 0 }'
    )
    (tmp_path / "pyproject.toml").write_text(bad)
    with pytest.raises(ConfigError, match="positive max_length"):
        load_settings(tmp_path / "pyproject.toml", {})
    assert ColumnSpec("t", "text", max_length=10).max_length == 10


def test_synthetic_messages_drift_the_ways_text_drifts() -> None:
    plain = generate(SMS, 3000, 3)
    assert plain.equals(generate(SMS, 3000, 3))  # reproducible
    topic = generate(SMS, 3000, 3, drift="covariate")
    short = generate(SMS, 3000, 3, drift="concept")
    spam = generate(SMS, 3000, 3, drift="prediction")
    assert not plain.text.str.contains("wallet").any() and topic.text.str.contains("wallet").any()
    assert short.text.str.len().mean() < 0.7 * plain.text.str.len().mean()
    share = (plain.label == "spam").mean()
    assert 0.1 < share < 0.17 and (spam.label == "spam").mean() > 2.5 * share


def test_text_drift_follows_the_calculator_contract() -> None:
    """Constructors store settings; fit learns (trailing underscore) and returns the calculator."""
    for calculator in (TextDrift(seed=3), PerformanceEstimator()):
        learned = [name for name in vars(calculator) if name.endswith("_")]
        assert learned == [], f"{type(calculator).__name__} learns in its constructor"
    reference = generate(SMS, 1500, 1).text
    fitted = TextDrift(seed=3).fit(reference)
    assert {"vocabulary_", "reference_", "descriptors_"} <= set(vars(fitted))
    with pytest.raises(AttributeError):
        TextDrift().test(reference)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_same_kind_of_messages_raise_no_alarm(seed: int) -> None:
    reference = generate(SMS, 2000, seed).text
    current = generate(SMS, 2000, seed + 100).text
    found = TextDrift(seed=seed).fit(reference).test(current)
    assert found.p_value > 0.05 and found.new_terms == []


@pytest.mark.parametrize("drift", ["covariate", "prediction", "concept"])
def test_new_topic_more_spam_and_short_messages_are_detected(drift: str) -> None:
    reference = generate(SMS, 2000, 21).text
    current = generate(SMS, 2000, 22, drift=drift).text
    found = TextDrift(seed=1).fit(reference).test(current)
    assert found.p_value < 0.001, found.tests
    if drift == "covariate":
        assert "wallet" in found.new_terms and found.unseen_token_share > 0.02
    if drift == "concept":
        assert found.mean_length["current"] < found.mean_length["reference"]
