import numpy as np
import pandas as pd
import pytest
from conftest import IBM
from sklearn.metrics import roc_auc_score

from pipeline.config import ModelConfig
from pipeline.model.synthetic import generate
from pipeline.model.train import build_model


def _fit(config: ModelConfig, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    model = build_model(config, LogisticRegression(max_iter=2000))
    return model.fit(frame[config.features], frame[config.target] == config.positive_class)


def test_same_seed_same_batch_other_seed_other_batch(config: ModelConfig) -> None:
    a, b = generate(config, 300, seed=7), generate(config, 300, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not generate(config, 300, seed=8).equals(a)


def test_shape_levels_and_positive_rate(config: ModelConfig) -> None:
    frame = generate(config, 5000, seed=1)
    assert list(frame.columns) == [c.name for c in config.columns]
    for name in config.categorical_features:
        assert set(frame[name]) <= set(config.column(name).levels)
    assert frame["Age"].between(18, 60).all()
    assert (frame["YearsAtCompany"] <= frame["TotalWorkingYears"]).all()
    assert 0.13 <= (frame["Attrition"] == "Yes").mean() <= 0.19


def test_target_is_learnable(config: ModelConfig) -> None:
    train, test = generate(config, 4000, seed=1), generate(config, 2000, seed=2)
    scores = _fit(config, train).predict_proba(test[config.features])[:, 1]
    assert roc_auc_score(test["Attrition"] == "Yes", scores) > 0.8


@pytest.mark.skipif(not IBM.exists(), reason="../shared/data is not beside the repository")
def test_a_model_learned_on_synthetic_rows_ranks_real_employees(config: ModelConfig) -> None:
    real = pd.read_csv(IBM, encoding="utf-8-sig")
    assert list(real.columns) == list(generate(config, 10, seed=0).columns)
    scores = _fit(config, generate(config, 6000, seed=3)).predict_proba(real[config.features])
    assert roc_auc_score(real["Attrition"] == "Yes", scores[:, 1]) > 0.75


def test_drift_kinds_move_what_they_say(config: ModelConfig) -> None:
    base = generate(config, 4000, seed=4)
    covariate = generate(config, 4000, seed=4, drift="covariate")
    ratio = covariate["MonthlyIncome"].median() / base["MonthlyIncome"].median()
    assert 1.4 < ratio < 1.6
    model = _fit(config, generate(config, 4000, seed=5))
    prediction = generate(config, 4000, seed=4, drift="prediction")
    assert (
        model.predict_proba(prediction[config.features])[:, 1].mean()
        > model.predict_proba(base[config.features])[:, 1].mean() + 0.05
    )
    concept = generate(config, 4000, seed=4, drift="concept")

    def auc(frame: pd.DataFrame) -> float:
        scores = model.predict_proba(frame[config.features])[:, 1]
        return float(roc_auc_score(frame["Attrition"] == "Yes", scores))

    assert auc(concept) < auc(base) - 0.08
    np.testing.assert_array_equal(concept["OverTime"], base["OverTime"])
