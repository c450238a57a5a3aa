"""The paired comparison of champion and challenger on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from pipeline.errors import DataError
from pipeline.monitoring.comparison import PairedDifference, paired_difference


def _pair(rows: int, gain: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.2).astype(int)
    shared = rng.normal(size=rows)
    old = 1.0 * labels + shared + 0.6 * rng.normal(size=rows)
    new = (1.0 + gain) * labels + shared + 0.6 * rng.normal(size=rows)
    return labels, new, old


def test_delong_measures_the_same_roc_auc_as_scikit_learn() -> None:
    labels, new, old = _pair(1500, 0.3)
    paired = paired_difference(labels, new, old)
    assert paired.method == "DeLong" and paired.rows == 1500
    assert paired.challenger == pytest.approx(roc_auc_score(labels, new), abs=1e-4)
    assert paired.champion == pytest.approx(roc_auc_score(labels, old), abs=1e-4)
    assert paired.lower < paired.difference < paired.upper
    # Symmetric around the difference, as a normal interval is.
    assert paired.difference - paired.lower == pytest.approx(
        paired.upper - paired.difference, abs=2e-4
    )
    swapped = paired_difference(labels, old, new)
    assert swapped.difference == -paired.difference
    assert swapped.probability_better == pytest.approx(1 - paired.probability_better, abs=1e-4)


def test_the_interval_is_read_the_way_people_read_it() -> None:
    paired = PairedDifference("roc_auc", 1000, 0.77, 0.74, 0.03, -0.004, 0.061, 0.96, 0.95, "x")
    assert paired.describe() == (
        "+0.030 (95% interval -0.004 to +0.061; challenger better with probability 0.96)"
    )
    certain = PairedDifference("roc_auc", 9, 0.9, 0.7, 0.2, 0.1, 0.3, 0.99995, 0.95, "x")
    assert certain.describe().endswith("challenger better with probability > 0.99)")


def test_more_rows_narrow_the_interval() -> None:
    small = paired_difference(*_pair(300, 0.2, seed=1))
    large = paired_difference(*_pair(3000, 0.2, seed=1))
    assert (large.upper - large.lower) < (small.upper - small.lower) / 2


def test_other_metrics_use_a_paired_bootstrap() -> None:
    labels, new, old = _pair(800, 0.5, seed=2)
    paired = paired_difference(labels, new, old, metric="f1", threshold=1.0)
    assert paired.method == "paired bootstrap (2000 resamples)"
    assert paired.challenger == pytest.approx(f1_score(labels, new >= 1.0), abs=1e-4)
    assert paired.lower <= paired.difference <= paired.upper
    again = paired_difference(labels, new, old, metric="f1", threshold=1.0)
    assert again == paired  # seeded: the same rows give the same interval
    same = paired_difference(labels, new, new, metric="f1", threshold=1.0)
    assert same.difference == 0 and same.probability_better == 0.5


def test_rows_that_cannot_compare_two_models_are_refused_in_one_line() -> None:
    with pytest.raises(DataError, match="too few of each class"):
        paired_difference(np.zeros(50, dtype=int), np.random.rand(50), np.random.rand(50))
    with pytest.raises(DataError, match="one score per row"):
        paired_difference(np.array([0, 1]), np.array([0.1]), np.array([0.2, 0.3]))
    with pytest.raises(DataError, match="no paired test for metric 'log_loss'"):
        paired_difference(*_pair(200, 0.1), metric="log_loss")
