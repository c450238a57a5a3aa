"""Properties of the pure decisions and of schema validation, over inputs Hypothesis invents.

The example-based tests in test_policy.py pin single cases; these say what must hold for all.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.config import FairnessConfig, ModelConfig, Thresholds, load_settings
from pipeline.errors import DataError
from pipeline.model.schema import validate_batch
from pipeline.monitoring.comparison import paired_difference
from pipeline.monitoring.policy import (
    drift_verdict,
    fairness_gates,
    per_column_threshold,
    promotion_decision,
)

REPO = Path(__file__).resolve().parents[1]
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
thresholds = st.builds(
    Thresholds,
    feature_alpha=st.floats(min_value=1e-6, max_value=1.0),
    drift_share=st.floats(min_value=0.01, max_value=1.0),
    max_metric_drop=st.floats(min_value=0.0, max_value=0.5),
    min_roc_auc=unit,
    min_f1=unit,
    min_improvement=st.floats(min_value=0.0, max_value=0.2),
    min_fairness_ratio=unit,
    promotion_confidence=st.floats(min_value=0.0, max_value=0.999),
)
feature_names = st.lists(st.text("abcdefgh", min_size=1, max_size=6), unique=True, max_size=40)


@given(
    thresholds,
    feature_names,
    st.data(),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.floats(-1, 1)),
)
def test_more_drifted_features_never_give_a_milder_verdict(
    limits: Thresholds,
    names: list[str],
    data: st.DataObject,
    prediction_drifted: bool | None,
    metric_drop: float | None,
) -> None:
    fewer = data.draw(st.lists(st.sampled_from(names), unique=True) if names else st.just([]))
    more = fewer + [name for name in names if name not in fewer][: data.draw(st.integers(0, 40))]
    n = len(names)
    milder = drift_verdict(n, fewer, limits, prediction_drifted, metric_drop)
    harsher = drift_verdict(n, more, limits, prediction_drifted, metric_drop)
    assert harsher.positive >= milder.positive
    if milder.positive:
        assert harsher.outcome == "drift"


@given(st.floats(min_value=1e-9, max_value=1.0), st.integers(min_value=0, max_value=10_000))
def test_the_per_column_level_never_exceeds_the_family_wise_alpha(alpha: float, n: int) -> None:
    level = per_column_threshold(Thresholds(feature_alpha=alpha), n)
    assert 0 < level <= alpha
    # Bonferroni: the n tests together stay within alpha.
    assert max(n, 1) * level <= alpha * (1 + 1e-12)


@given(thresholds, st.data())
def test_a_challenger_passing_every_gate_and_better_by_more_than_the_minimum_is_proposed(
    limits: Thresholds, data: st.DataObject
) -> None:
    roc_auc = data.draw(st.floats(min_value=limits.min_roc_auc, max_value=1.0))
    f1 = data.draw(st.floats(min_value=limits.min_f1, max_value=1.0))
    assume(roc_auc - limits.min_improvement > 0)
    # Any champion score that leaves the challenger ahead by more than the minimum.
    champion = data.draw(st.floats(min_value=0.0, max_value=roc_auc - limits.min_improvement))
    assume(roc_auc - champion > limits.min_improvement)
    ratio = data.draw(st.floats(min_value=limits.min_fairness_ratio, max_value=1.0))
    fairness = FairnessConfig(attributes=("Gender",), gate_attributes=("Gender",))
    gates = fairness_gates(
        {"fairness_Gender_selection_rate_ratio": ratio}, fairness, limits, "challenger"
    )
    assert gates[0] == []
    decision = promotion_decision(
        {"roc_auc": roc_auc, "f1": f1}, {"roc_auc": champion}, limits, fairness=gates
    )
    assert decision.outcome == "promote", decision.reasons


@given(thresholds, unit, unit, unit)
def test_a_challenger_below_a_metric_gate_is_never_proposed(
    limits: Thresholds, roc_auc: float, f1: float, champion: float
) -> None:
    assume(roc_auc < limits.min_roc_auc or f1 < limits.min_f1)
    decision = promotion_decision({"roc_auc": roc_auc, "f1": f1}, {"roc_auc": champion}, limits)
    assert decision.outcome == "keep"


@settings(max_examples=40, deadline=None)
@given(
    thresholds,
    st.integers(min_value=20, max_value=3000),
    st.floats(min_value=0.05, max_value=0.6),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_an_identical_challenger_is_never_proposed(
    limits: Thresholds, rows: int, positive_rate: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < positive_rate).astype(int)
    assume(min(labels.sum(), rows - labels.sum()) >= 5)
    scores = np.clip(0.3 * labels + rng.normal(0.35, 0.2, rows), 0, 1)
    paired = paired_difference(labels, scores, scores)
    assert paired.difference == 0 and paired.probability_better == 0.5
    metrics = {"roc_auc": paired.challenger, "f1": 0.9}
    decision = promotion_decision(metrics, {"roc_auc": paired.champion}, limits, paired=paired)
    assert decision.outcome == "keep", decision.reasons


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=400, max_value=3000),
    st.floats(min_value=0.1, max_value=0.5),
    st.floats(min_value=0.0, max_value=0.05),
    st.floats(min_value=0.5, max_value=0.99),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_clearly_better_challenger_on_enough_rows_is_always_proposed(
    rows: int, positive_rate: float, min_improvement: float, confidence: float, seed: int
) -> None:
    # The champion ranks with AUC about 0.69, the challenger about 0.92, on the same rows.
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < positive_rate).astype(int)
    assume(min(labels.sum(), rows - labels.sum()) >= 30)
    shared = rng.normal(size=rows)
    champion = 0.7 * labels + shared + 0.5 * rng.normal(size=rows)
    challenger = 2.0 * labels + shared + 0.5 * rng.normal(size=rows)
    paired = paired_difference(labels, challenger, champion)
    limits = Thresholds(
        min_roc_auc=0.7, min_improvement=min_improvement, promotion_confidence=confidence
    )
    metrics = {"roc_auc": paired.challenger, "f1": 0.6}
    decision = promotion_decision(metrics, {"roc_auc": paired.champion}, limits, paired=paired)
    assert decision.outcome == "promote", decision.reasons
    assert paired.lower > 0 and paired.probability_better > 0.99


@pytest.fixture(scope="module")
def machine_failure() -> ModelConfig:
    return load_settings(REPO / "pyproject.toml", environ={}).model("machine_failure")


# Values a hand-made CSV can hold: numbers (finite or not), numeric and other text, blanks.
cell = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "n/a", "ok", "failed", "12.5", "1e3", "-", "OK "]),
    st.text(max_size=5),
)


@st.composite
def raw_batches(draw: st.DrawFn, config: ModelConfig) -> pd.DataFrame:
    """Frames with some of the model's columns (and maybe an unknown one) and arbitrary cells."""
    names = [c.name for c in config.columns]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, min_size=0))
    if draw(st.booleans()):
        chosen = [n for n in names if n not in draw(st.lists(st.sampled_from(names), max_size=1))]
    if draw(st.booleans()):
        chosen.append("unexpected_column")
    rows = draw(st.integers(min_value=0, max_value=12))
    return pd.DataFrame(
        {name: draw(st.lists(cell, min_size=rows, max_size=rows)) for name in chosen},
        dtype=object,
    )


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_validation_of_any_frame_passes_or_raises_one_clear_line(
    machine_failure: ModelConfig, data: st.DataObject
) -> None:
    frame = data.draw(raw_batches(machine_failure))
    try:
        batch = validate_batch(frame, machine_failure, "batch.csv")
    except DataError as error:
        message = str(error)
        assert message and "\n" not in message
        assert "batch.csv" in message or "'" in message  # names the file or the column
        return
    assert len(batch.frame) == len(frame)
    assert batch.rejected_rows + int(np.asarray(batch.accepted).sum()) == len(frame)
    assert set(machine_failure.features) <= set(batch.frame.columns)
    numeric = [c.name for c in machine_failure.columns if c.kind == "numeric"]
    for name in numeric:
        if name in batch.frame:
            values = batch.frame[name].to_numpy(dtype=float)
            assert not any(math.isinf(v) for v in values if v == v)
