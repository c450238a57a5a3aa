"""The text goals on the real SMS Spam Collection (../shared/data; skipped when it is absent).

False alarms on random halves of the real table, detection of a new topic, short messages and
a tripled spam share in real messages, and the spam model's ROC AUC on held-out real messages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from pipeline.config import load_settings
from pipeline.model.messages import TOPIC_PHRASES, _fill
from pipeline.model.schema import validate_batch
from pipeline.model.train import train
from pipeline.monitoring.text import TextDrift

SMS_TABLE = REPO.parent / "shared" / "data" / "sms_spam_collection.csv"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SMS_TABLE.exists(), reason=f"{SMS_TABLE} is not here (../shared)"),
]
ALPHA = 0.05  # sms_spam's feature_alpha: one text column, so its whole family


def _halves(table: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = np.random.default_rng(seed).permutation(len(table)) < len(table) // 2
    return table[mask], table[~mask].copy()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(SMS_TABLE)


def test_random_halves_raise_at_most_one_false_alarm_in_twenty(table: pd.DataFrame) -> None:
    p_values = []
    for seed in range(20):
        reference, current = _halves(table, seed)
        p_values.append(TextDrift(seed=seed).fit(reference.text).test(current.text).p_value)
    alarms = sum(p < ALPHA for p in p_values)
    print(f"\nfalse alarms: {alarms} of 20; smallest p-value {min(p_values):.3g}")
    assert alarms <= 1


@pytest.mark.parametrize("seed", range(5))
def test_a_topic_short_messages_and_more_spam_are_detected(table: pd.DataFrame, seed: int) -> None:
    reference, current = _halves(table, seed)
    rng = np.random.default_rng(seed)
    calculator = TextDrift(seed=seed).fit(reference.text)

    topic = current.text.copy()
    wave = rng.choice(len(topic), size=len(topic) // 10, replace=False)  # 10% of the messages
    topic.iloc[wave] = [_fill(str(rng.choice(TOPIC_PHRASES)), rng) for _ in wave]
    found = calculator.test(topic)
    assert found.p_value < ALPHA and {"wallet", "airdrop", "nft"} & set(found.new_terms)

    short = current.text[current.text.str.len() < 50]
    assert calculator.test(short).p_value < ALPHA

    spam, ham = current[current.label == "spam"], current[current.label == "ham"]
    share = len(spam) / len(current)
    many = round(3 * share * len(current))
    tripled = pd.concat(
        [
            spam.sample(many, replace=True, random_state=seed),
            ham.sample(len(current) - many, replace=True, random_state=seed),
        ]
    )
    assert calculator.test(tripled.text).p_value < ALPHA


def test_the_spam_model_reaches_roc_auc_097_on_held_out_real_messages(
    table: pd.DataFrame,
) -> None:
    config = load_settings(REPO / "pyproject.toml", {}).model("sms_spam")
    outcome = train(config, validate_batch(table, config, str(SMS_TABLE)).frame, seed=0)
    print(f"\n{outcome.estimator_name}: held-out {outcome.test_metrics}")
    assert outcome.test_metrics["roc_auc"] >= 0.97
