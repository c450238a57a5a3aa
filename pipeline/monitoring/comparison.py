"""Champion and challenger on the same rows: the difference of a metric, with its uncertainty.

A promotion compares two models on one set of labelled rows, so their errors are correlated and
the test must be paired. ROC AUC uses DeLong's method (DeLong, DeLong & Clarke-Pearson, 1988,
computed with midranks as Sun & Xu 2014 do): the covariance of the two AUCs from their
placement values, exact and deterministic. Any other metric uses a paired bootstrap: the same
resampled rows score both models.

"Challenger better with probability p" is the normal (DeLong) or bootstrap distribution of the
difference read as a posterior under a flat prior: the one-sided confidence that the difference
is above zero. Pure computation: scores and labels in, a ``PairedDifference`` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import DataError

if TYPE_CHECKING:
    import numpy as np

PAIRED_ARTIFACT = "comparison/paired.json"  # a challenger's run: its paired test vs the champion
LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
MIN_ROWS_PER_CLASS = 5


@dataclass(frozen=True)
class PairedDifference:
    """Challenger minus champion on the same rows, with a two-sided interval at ``level``."""

    metric: str
    rows: int
    challenger: float
    champion: float
    difference: float
    lower: float
    upper: float
    probability_better: float
    level: float
    method: str

    def describe(self) -> str:
        """``+0.030 (95% interval -0.004 to +0.061; challenger better with probability 0.96)``."""
        return (
            f"{self.difference:+.3f} ({self.level:.0%} interval {self.lower:+.3f} to "
            f"{self.upper:+.3f}; challenger better with probability "
            f"{_probability(self.probability_better)})"
        )


def _probability(value: float) -> str:
    """Two decimals, never rounded to a certainty the test did not reach."""
    if value > 0.99:
        return "> 0.99"
    if value < 0.01:
        return "< 0.01"
    return f"{value:.2f}"


def paired_difference(
    labels: np.ndarray,
    challenger_scores: np.ndarray,
    champion_scores: np.ndarray,
    metric: str = "roc_auc",
    threshold: float = 0.5,
    level: float = LEVEL,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> PairedDifference:
    """The paired difference of ``metric`` (challenger minus champion) on the same rows.

    Raises ``DataError`` when the rows cannot compare two models: a single class, or fewer
    than ``MIN_ROWS_PER_CLASS`` rows of either class.
    """
    import numpy as np

    y = np.asarray(labels, dtype=int)
    new = np.asarray(challenger_scores, dtype=float)
    old = np.asarray(champion_scores, dtype=float)
    if not len(y) == len(new) == len(old):
        raise DataError(
            f"paired comparison needs one score per row from each model "
            f"({len(y)} labels, {len(new)} and {len(old)} scores)"
        )
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"{len(y)} labelled rows with {positives} positive: too few of each class "
            f"(at least {MIN_ROWS_PER_CLASS}) to compare two models"
        )
    if metric == "roc_auc":
        return _delong(y, new, old, level)
    return _bootstrap(y, new, old, metric, threshold, level, resamples, seed)


def _delong(y: np.ndarray, new: np.ndarray, old: np.ndarray, level: float) -> PairedDifference:
    import numpy as np
    from scipy.stats import norm, rankdata

    positive, negative = y == 1, y == 0
    m, n = int(positive.sum()), int(negative.sum())
    aucs, placements_pos, placements_neg = [], [], []
    for scores in (new, old):
        all_ranks = rankdata(scores)
        within_pos = rankdata(scores[positive])
        within_neg = rankdata(scores[negative])
        aucs.append((all_ranks[positive].sum() - m * (m + 1) / 2) / (m * n))
        # Placement values: for each positive, the share of negatives it outranks; for each
        # negative, the share of positives that outrank it (ties count a half).
        placements_pos.append((all_ranks[positive] - within_pos) / n)
        placements_neg.append(1.0 - (all_ranks[negative] - within_neg) / m)
    cov_pos = np.cov(np.vstack(placements_pos)) if m > 1 else np.zeros((2, 2))
    cov_neg = np.cov(np.vstack(placements_neg)) if n > 1 else np.zeros((2, 2))
    cov = cov_pos / m + cov_neg / n
    variance = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    difference = float(aucs[0] - aucs[1])
    se = math.sqrt(variance)
    if se < 1e-12:
        # The two models rank every pair alike: no evidence either way.
        lower = upper = difference
        probability = 0.5 if abs(difference) < 1e-12 else float(difference > 0)
    else:
        z = float(norm.ppf(0.5 + level / 2))
        lower, upper = difference - z * se, difference + z * se
        probability = float(norm.cdf(difference / se))
    return PairedDifference(
        metric="roc_auc",
        rows=len(y),
        challenger=round(float(aucs[0]), 4),
        champion=round(float(aucs[1]), 4),
        difference=round(difference, 4),
        lower=round(max(lower, -1.0), 4),
        upper=round(min(upper, 1.0), 4),
        probability_better=round(probability, 4),
        level=level,
        method="DeLong",
    )


def _bootstrap(
    y: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    metric: str,
    threshold: float,
    level: float,
    resamples: int,
    seed: int,
) -> PairedDifference:
    import numpy as np

    if metric not in _RATES:
        raise DataError(
            f"no paired test for metric '{metric}' (choose from roc_auc, {', '.join(_RATES)})"
        )
    rng = np.random.default_rng(seed)
    rows = len(y)
    picks = rng.integers(0, rows, size=(resamples, rows))
    truth = y[picks]
    differences = _RATES[metric](truth, new[picks] >= threshold) - _RATES[metric](
        truth, old[picks] >= threshold
    )
    whole_new = float(_RATES[metric](y[None, :], (new >= threshold)[None, :])[0])
    whole_old = float(_RATES[metric](y[None, :], (old >= threshold)[None, :])[0])
    tail = (1 - level) / 2
    lower, upper = np.quantile(differences, [tail, 1 - tail])
    # Ties (the resample could not tell them apart) count a half, as DeLong's 0 does.
    probability = float(np.mean(differences > 0) + 0.5 * np.mean(differences == 0))
    return PairedDifference(
        metric=metric,
        rows=rows,
        challenger=round(whole_new, 4),
        champion=round(whole_old, 4),
        difference=round(whole_new - whole_old, 4),
        lower=round(float(lower), 4),
        upper=round(float(upper), 4),
        probability_better=round(probability, 4),
        level=level,
        method=f"paired bootstrap ({resamples} resamples)",
    )


def _f1(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    import numpy as np

    tp = np.sum(truth.astype(bool) & predicted, axis=1)
    fp = np.sum(~truth.astype(bool) & predicted, axis=1)
    fn = np.sum(truth.astype(bool) & ~predicted, axis=1)
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def _accuracy(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    import numpy as np

    correct: np.ndarray = np.mean(truth.astype(bool) == predicted, axis=1)
    return correct


def _precision(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    import numpy as np

    tp = np.sum(truth.astype(bool) & predicted, axis=1)
    flagged = np.sum(predicted, axis=1)
    return np.where(flagged > 0, tp / np.maximum(flagged, 1), 0.0)


def _recall(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    import numpy as np

    tp = np.sum(truth.astype(bool) & predicted, axis=1)
    actual = np.sum(truth, axis=1)
    return np.where(actual > 0, tp / np.maximum(actual, 1), 0.0)


_RATES = {"f1": _f1, "accuracy": _accuracy, "precision": _precision, "recall": _recall}
