"""Performance of a scoring model on labelled rows: the classification metrics every gate reads.

The model is anything with scikit-learn's ``predict_proba``; the labels are the 0/1 ``__label__``
column schema validation adds. Pure computation: training tests with it, drift measures concept
drift with it, retraining compares champion and challenger with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


def labelled_rows(frame: pd.DataFrame, config: ModelConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 labels of the rows that have a label (the ``__label__`` column)."""
    labelled = frame[frame["__label__"].notna()]
    return labelled[config.features], labelled["__label__"].to_numpy(dtype=int)


def positive_scores(model: Any, features: pd.DataFrame) -> np.ndarray:
    scores: np.ndarray = model.predict_proba(features)[:, 1]
    return scores


def evaluate(
    model: Any, features: pd.DataFrame, labels: np.ndarray, threshold: float
) -> dict[str, float]:
    """ROC AUC, accuracy, precision, recall and F1 of ``model`` on labelled rows."""
    return score_metrics(positive_scores(model, features), labels, threshold)


def score_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """The same metrics from scores already computed (e.g. a period's logged predictions)."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    predicted = (scores >= threshold).astype(int)
    single_class = len(set(labels.tolist())) < 2
    return {
        "roc_auc": float("nan") if single_class else float(roc_auc_score(labels, scores)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
    }


def rounded(metrics: dict[str, float], places: int = 4) -> dict[str, float]:
    """Metrics as results record them: to ``places`` decimals."""
    return {k: round(v, places) for k, v in metrics.items()}
