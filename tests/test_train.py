"""Training: what the candidates' pipelines are made of and what a search leaves behind."""

from dataclasses import replace

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from pipeline.config import ModelConfig
from pipeline.model.synthetic import generate
from pipeline.model.train import build_model, train


def _labels(config: ModelConfig, frame):  # type: ignore[no-untyped-def]
    return (frame[config.target] == config.positive_class).to_numpy()


def test_histogram_boosting_gets_columns_it_need_not_bin(config: ModelConfig) -> None:
    # With balanced class weights scikit-learn bins every column of more than 255 distinct
    # values by one weighted percentile at a time; binned here, none has more.
    frame = generate(config, 3000, seed=3)
    model = build_model(config, HistGradientBoostingClassifier(class_weight="balanced"))
    model.fit(frame[config.features], _labels(config, frame))
    assert frame["MonthlyIncome"].nunique() > 255
    features = model[:-1].transform(frame[config.features])
    assert max(len(np.unique(features[:, i])) for i in range(features.shape[1])) <= 255


def test_binned_boosting_ranks_as_well_as_boosting_that_bins_itself(config: ModelConfig) -> None:
    train_rows, test_rows = generate(config, 4000, seed=1), generate(config, 2000, seed=2)
    y_train, y_test = _labels(config, train_rows), _labels(config, test_rows)

    def booster() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(class_weight="balanced", random_state=0)

    ours = build_model(config, booster()).fit(train_rows[config.features], y_train)
    # The same booster behind the other candidates' preprocessing (scaled, not binned).
    theirs = build_model(config, LogisticRegression())
    theirs.steps[-1] = ("estimator", booster())
    theirs.fit(train_rows[config.features], y_train)
    auc = [
        roc_auc_score(y_test, m.predict_proba(test_rows[config.features])[:, 1])
        for m in (ours, theirs)
    ]
    assert abs(auc[0] - auc[1]) < 0.01, auc


def test_search_keeps_the_winner_without_its_cache(config: ModelConfig) -> None:
    config = replace(config, search_iterations=2, cv_folds=2)
    outcome = train(config, _with_label(config, generate(config, 600, seed=5)), seed=0)
    assert [c.name for c in outcome.candidates] == list(config.candidates)
    # The search's fitted-transformer cache was a temporary folder: the model must not point
    # at it, or the registry would store a path to nothing.
    assert outcome.model.memory is None
    assert outcome.test_metrics["roc_auc"] > 0.7


def _with_label(config: ModelConfig, frame):  # type: ignore[no-untyped-def]
    return frame.assign(__label__=_labels(config, frame).astype(int))
