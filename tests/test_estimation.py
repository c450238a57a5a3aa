"""Estimated performance (CBPE): the champion's ROC AUC and F1 without labels, with a band."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from pipeline.errors import DataError
from pipeline.monitoring.estimation import PerformanceEstimator, expected_f1, expected_roc_auc

rng = np.random.default_rng(7)


def month(rows: int, shift: float = 0.0, concept: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a fixed, miscalibrated model and labels drawn from the true relationship."""
    x = rng.normal(shift, 1.0, rows)
    labels = rng.random(rows) < 1 / (1 + np.exp(-(concept * x - 1.5)))
    scores = 1 / (1 + np.exp(-(2.0 * x - 0.8)))  # over-confident, as class weights make it
    return scores, labels.astype(int)


@pytest.fixture(scope="module")
def estimator() -> PerformanceEstimator:
    return PerformanceEstimator(threshold=0.5).fit(*month(800), source="held-out test split")


def test_the_constructor_only_stores_settings() -> None:
    estimator = PerformanceEstimator(threshold=0.3, draws=50)
    assert (estimator.threshold, estimator.draws) == (0.3, 50)
    assert not hasattr(estimator, "calibrator_")
    with pytest.raises(RuntimeError, match="before fit"):
        estimator.estimate(np.array([0.2, 0.8]))


def test_the_realized_metrics_fall_in_the_band_in_most_months(
    estimator: PerformanceEstimator,
) -> None:
    covered_auc = covered_f1 = 0
    months = 40
    for index in range(months):
        scores, labels = month(2000, shift=0.6 if index % 2 else 0.0)  # covariate shift too
        estimate = estimator.estimate(scores)
        covered_auc += estimate.lower <= roc_auc_score(labels, scores) <= estimate.upper
        covered_f1 += estimate.f1_lower <= f1_score(labels, scores >= 0.5) <= estimate.f1_upper
    assert covered_auc / months >= 0.9 and covered_f1 / months >= 0.9


def test_a_covariate_shift_moves_the_estimate_with_the_realized_value(
    estimator: PerformanceEstimator,
) -> None:
    scores, labels = month(5000, shift=-1.5)
    estimate = estimator.estimate(scores, reference=0.85)
    realized = roc_auc_score(labels, scores)
    assert abs(estimate.value - realized) < 0.03
    assert estimate.drop == pytest.approx(0.85 - estimate.value, abs=1e-4)
    assert estimate.method == "cbpe" and estimate.rows == 5000
    assert estimate.calibrated_on == "held-out test split (800 rows)"


def test_a_change_of_the_label_given_the_same_inputs_is_invisible_to_it(
    estimator: PerformanceEstimator,
) -> None:
    """What the manual says it cannot see: only late labels reveal a concept drift."""
    scores, labels = month(4000, concept=0.3)
    estimate = estimator.estimate(scores)
    assert roc_auc_score(labels, scores) < estimate.lower  # realized fell; the estimate did not


def test_the_band_narrows_with_more_rows(estimator: PerformanceEstimator) -> None:
    small = estimator.estimate(month(300)[0])
    large = estimator.estimate(month(30000)[0])
    assert large.upper - large.lower < small.upper - small.lower


def test_certain_probabilities_give_the_realized_metrics() -> None:
    scores, labels = month(1000)
    certain = labels.astype(float)
    assert expected_roc_auc(scores, certain) == pytest.approx(roc_auc_score(labels, scores))
    assert expected_f1(scores, certain, 0.5) == pytest.approx(f1_score(labels, scores >= 0.5))


def test_a_reference_of_one_class_is_one_clear_line() -> None:
    with pytest.raises(DataError) as error:
        PerformanceEstimator().fit(np.linspace(0, 1, 100), np.zeros(100), source="v3's test split")
    assert str(error.value) == (
        "performance estimation needs at least 20 labelled reference rows with 2 of each class "
        "(v3's test split has 100, 0 positive)"
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_calibration_is_the_logistic_regression_scikit_learn_fits(seed: int) -> None:
    from sklearn.linear_model import LogisticRegression

    from pipeline.monitoring.estimation import _calibration_inputs, _platt

    rng = np.random.default_rng(seed)
    rows = int(rng.integers(30, 2000))
    scores = np.clip(rng.beta(rng.uniform(0.5, 3), rng.uniform(0.5, 5), rows), 1e-6, 1 - 1e-6)
    labels = (rng.random(rows) < np.clip(scores * rng.uniform(0.5, 1.5), 0, 1)).astype(int)
    logits = np.log(scores / (1 - scores))
    inputs = _calibration_inputs(logits)
    # The same penalised log loss, solved to a tolerance that leaves no doubt.
    reference = LogisticRegression(C=1e6, max_iter=10_000, tol=1e-10).fit(inputs, labels)
    ours = _platt(logits, labels).predict_proba(inputs)
    np.testing.assert_allclose(ours, reference.predict_proba(inputs), atol=1e-4)
