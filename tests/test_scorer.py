"""The API's direct scorer: the pipeline's own scores, without scikit-learn's per-call checks."""

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from pipeline.config import ModelConfig
from pipeline.model.scorer import DirectScorer
from pipeline.model.synthetic import generate
from pipeline.model.train import build_model


def _awkward_rows(config: ModelConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows a request may bring: a level never seen in training, missing and extreme numbers."""
    rows = frame.head(40).copy()
    rows.loc[rows.index[0], "BusinessTravel"] = "Travel_To_Mars"
    rows.loc[rows.index[1], "MonthlyIncome"] = np.nan
    rows.loc[rows.index[2], "Age"] = 1e9
    rows.loc[rows.index[3], "DistanceFromHome"] = -1e9
    return rows


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=2000),
        RandomForestClassifier(n_estimators=10, random_state=0),
        HistGradientBoostingClassifier(max_iter=20),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_candidate_is_scored_as_its_pipeline_scores(
    config: ModelConfig, estimator: Any
) -> None:
    frame = generate(config, 1500, seed=4)
    frame.loc[frame.index[:30], "MonthlyIncome"] = np.nan  # the imputer learns from gaps too
    labels = frame[config.target] == config.positive_class
    model = build_model(config, estimator).fit(frame[config.features], labels)
    scorer = DirectScorer.compile(model, frame)
    assert scorer is not None
    # Every part of build_model's preprocessing runs as numpy, none through transform().
    assert all(part.compiled is not None for part in scorer.parts)
    # A logistic regression's own scores run as numpy too; the trees keep predict_proba.
    assert (scorer.positive is not None) == isinstance(estimator, LogisticRegression)
    rows = _awkward_rows(config, frame)
    ours = scorer.scores({c: rows[c].to_numpy() for c in rows.columns})
    theirs = model.predict_proba(rows[config.features])[:, 1]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_a_shape_it_does_not_know_is_left_to_the_pipeline(config: ModelConfig) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = generate(config, 500, seed=4)
    labels = frame[config.target] == config.positive_class
    # One-hot output as a sparse matrix: the scorer takes dense blocks only.
    sparse = ColumnTransformer([("c", OneHotEncoder(), config.categorical_features)])
    model = Pipeline([("preprocess", sparse), ("estimator", LogisticRegression())])
    model.fit(frame[config.features], labels)
    assert DirectScorer.compile(model, frame) is None
