"""A challenger's training sets: labelled months, the validation rows, and one set per window.

The retrain step (months read from disk) and the backtest (months in memory) build the same
thing: the labelled months a challenger may learn from, the newest month kept for validation
(split in time when it is the only month since the change or the only new one), and one
training set per candidate window of ``monitoring.windows``. Each candidate is fitted with
the champion's estimator and hyper-parameters (the question is which rows, not which model)
and scored on the validation rows; the best window's rows are what the challenger learns from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig
from pipeline.model.periods import is_month, months_between
from pipeline.model.train import WEIGHT_COLUMN, TrainOutcome, refit
from pipeline.monitoring.performance import labelled_rows, score_metrics
from pipeline.monitoring.windows import (
    ChangePoint,
    TrainingWindow,
    WindowScore,
    candidate_windows,
    choose_window,
    recency_weight,
)

if TYPE_CHECKING:
    import pandas as pd

MIN_VALIDATION_ROWS = 40
MIN_CLASS_ROWS = 10  # what ``train`` asks of each class


@dataclass
class LabelledMonth:
    """A month's labelled rows, oldest first in a list; ``learned``: the champion has them."""

    name: str
    frame: pd.DataFrame
    learned: bool = False


@dataclass
class ValidationSplit:
    """The months a challenger learns from and the newest rows it is judged on."""

    training: list[LabelledMonth]
    validation: pd.DataFrame
    newest: str
    evaluated_on: str
    split_in_time: bool

    @property
    def rows_named(self) -> str:
        """The validation rows in a few words: "2026-06's labelled rows"."""
        half = "the later half of " if self.split_in_time else ""
        return f"{half}{self.newest}'s labelled rows"


def too_few(frame: pd.DataFrame, rows: int, per_class: int) -> str | None:
    """Why ``frame`` cannot train or judge a model, or None when it can."""
    labels = frame["__label__"].dropna()
    positives = int(labels.sum())
    if len(labels) < rows or min(positives, len(labels) - positives) < per_class:
        classes = "a single class" if positives in (0, len(labels)) else f"{positives} positive"
        return f"{len(labels)} labelled rows ({classes})"
    return None


def split_validation(months: list[LabelledMonth], change: ChangePoint | None) -> ValidationSplit:
    """The newest month for validation; split in time (earlier half learned) when it is the
    only month since the change or the only one the champion has not learned.

    Rows keep the order the batch gave them: within a month, that is the order they came in.
    """
    newest = months[-1]
    earlier_new = [m for m in months[:-1] if not m.learned]
    changed_here = change is not None and change.period == newest.name
    if earlier_new and not changed_here:
        where = f"{newest.name}'s labelled rows ({len(newest.frame)}), learned by neither model"
        return ValidationSplit(months[:-1], newest.frame, newest.name, where, False)
    cut = len(newest.frame) // 2
    early, late = newest.frame.iloc[:cut], newest.frame.iloc[cut:]
    where = (
        f"the later half of {newest.name}'s labelled rows ({len(late)}, in the order they "
        "came), learned by neither model"
    )
    training = [*months[:-1], LabelledMonth(newest.name, early)]
    return ValidationSplit(training, late, newest.name, where, True)


def window_rows(
    window: TrainingWindow,
    reference: pd.DataFrame | None,
    split: ValidationSplit,
    half_life_months: float,
) -> pd.DataFrame:
    """The labelled rows ``window`` learns from (weighted by recency when it says so)."""
    import pandas as pd

    chosen = [m for m in split.training if m.name in window.periods]
    if window.with_reference:
        chosen = [m for m in chosen if not m.learned]  # the reference holds those already
    parts: list[pd.DataFrame] = []
    ages: list[float] = []
    for month in chosen:
        parts.append(month.frame)
        ages.append(_age(month.name, split.newest))
    if window.with_reference and reference is not None:
        # The champion's own rows are older than any month it has not learned.
        parts.insert(0, reference)
        ages.insert(0, max(ages, default=0.0) + 1.0)
    if not parts:
        return pd.DataFrame(columns=[*(reference.columns if reference is not None else [])])
    if window.weighted:
        parts = [
            part.assign(**{WEIGHT_COLUMN: recency_weight(age, half_life_months)})
            for part, age in zip(parts, ages, strict=True)
        ]
    return pd.concat(parts, ignore_index=True)


def _age(name: str, newest: str) -> float:
    """Months between ``name`` and the validation month (0 for its own early half)."""
    if is_month(name) and is_month(newest):
        return float(max(months_between(name, newest), 0))
    return 0.0


@dataclass
class WindowChoice:
    """What ``retrain.json`` records of the window search."""

    change_period: str | None
    change_evidence: list[str]
    evaluated_on: str
    metric: str
    candidates: list[dict[str, Any]] = field(default_factory=list)
    chosen: str = ""
    why: str = ""


def choose_training_rows(
    config: ModelConfig,
    reference: pd.DataFrame | None,
    split: ValidationSplit,
    change: ChangePoint | None,
    estimator: tuple[str, dict[str, Any]],
    seed: int,
) -> tuple[pd.DataFrame, WindowChoice, TrainOutcome | None]:
    """The rows the challenger learns from, the record of how they were chosen, and the
    chosen window's fit when there was one.

    One window (no change located): its rows, no fitting. Several: each is fitted with
    ``estimator`` (name, hyper-parameters) and scored on the validation rows; the winner's
    fit is ``refit`` of those rows, so a caller that would refit them takes it instead.
    """
    thresholds = config.thresholds
    windows = candidate_windows([m.name for m in split.training], change, thresholds)
    choice = WindowChoice(
        change_period=change.period if change else None,
        change_evidence=change.evidence if change else [],
        evaluated_on=split.evaluated_on,
        metric=config.primary_metric,
    )
    half_life = thresholds.recency_half_life_months
    frames = {w.name: window_rows(w, reference, split, half_life) for w in windows}
    if len(windows) == 1:
        only = windows[0]
        choice.candidates = [_record(only, len(frames[only.name]), None, "")]
        choice.chosen = only.name
        choice.why = "no change located in the labelled months: one window, everything matured"
        return frames[only.name], choice, None
    x_valid, y_valid = labelled_rows(split.validation, config)
    scores: list[WindowScore] = []
    fits: dict[str, TrainOutcome] = {}
    for window in windows:
        rows = frames[window.name]
        problem = too_few(rows, 50, MIN_CLASS_ROWS) if len(rows) else "no labelled rows"
        if problem:
            scores.append(WindowScore(window, len(rows), None, f"not trained: {problem}"))
            continue
        fitted = fits[window.name] = refit(config, estimator[0], estimator[1], rows, seed)
        scored = fitted.model.predict_proba(x_valid)[:, 1]
        value = score_metrics(scored, y_valid, config.decision_threshold)[config.primary_metric]
        scores.append(WindowScore(window, len(rows), round(float(value), 4)))
    if all(s.validation_score is None for s in scores):
        first = windows[0]
        choice.candidates = [_record(s.window, s.rows, None, s.note) for s in scores]
        choice.chosen, choice.why = first.name, "no window could be fitted: everything matured"
        return frames[first.name], choice, None
    best, why = choose_window(scores, config.primary_metric)
    choice.candidates = [_record(s.window, s.rows, s.validation_score, s.note) for s in scores]
    choice.chosen, choice.why = best.window.name, why
    return frames[best.window.name], choice, fits[best.window.name]


def _record(window: TrainingWindow, rows: int, score: float | None, note: str) -> dict[str, Any]:
    return {
        "window": window.name,
        "description": window.description,
        "periods": list(window.periods),
        "with_reference": window.with_reference,
        "weighted": window.weighted,
        "rows": rows,
        "validation_score": score,
        "note": note,
    }
