"""Where the world changed, and the training windows a challenger may learn from.

When a retrain is triggered by a drop in performance or by drift across the dataset, the rows
from before the change teach the old world. ``change_start`` locates the change from the
per-month evidence already on disk (the realized metric once labels arrived, the drifted share,
the score distribution, the estimated metric); ``candidate_windows`` then names the windows
worth trying: everything matured, only the months since the change, and all of it weighted
towards the recent months. The retrain step and the backtest train one candidate per window and
keep the one that scores best on rows none of them learned from. Pure computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.config import Thresholds

WINDOW = "window"
SINCE_CHANGE = "since_change"
WEIGHTED = "weighted"


@dataclass(frozen=True)
class MonthEvidence:
    """What one month said about change. ``None``: not measured that month."""

    period: str
    realized_drop: float | None = None  # serving model's test metric minus its realized one
    drift_share: float | None = None
    prediction_drifted: bool | None = None
    estimated_drop: float | None = None

    def signals(self, thresholds: Thresholds) -> list[str]:
        """The reasons this month looks changed (empty: it does not)."""
        found = []
        if self.realized_drop is not None and self.realized_drop > thresholds.max_metric_drop:
            found.append(f"realized ROC AUC {self.realized_drop:.3f} below the model's test")
        if self.drift_share is not None and self.drift_share >= thresholds.drift_share:
            found.append(f"{self.drift_share:.0%} of features drifted")
        if self.prediction_drifted:
            found.append("the score distribution drifted")
        if self.estimated_drop is not None and self.estimated_drop > thresholds.max_metric_drop:
            found.append(f"estimated ROC AUC {self.estimated_drop:.3f} below the model's test")
        return found


@dataclass(frozen=True)
class ChangePoint:
    """The first month of the latest run of changed months, and what showed it."""

    period: str
    evidence: list[str]


def change_start(evidence: Sequence[MonthEvidence], thresholds: Thresholds) -> ChangePoint | None:
    """The month the latest change began, or None when no month shows one.

    ``evidence`` is oldest first. The newest changed month is found, then the run of changed
    months is followed back to its first: a change that persists shows in every month after
    its onset, so the run's first month is where the new world begins.
    """
    changed = [bool(month.signals(thresholds)) for month in evidence]
    if not any(changed):
        return None
    last = max(i for i, flag in enumerate(changed) if flag)
    first = last
    while first > 0 and changed[first - 1]:
        first -= 1
    month = evidence[first]
    return ChangePoint(month.period, [f"{month.period}: {s}" for s in month.signals(thresholds)])


@dataclass(frozen=True)
class TrainingWindow:
    """One candidate's training data: which months, whether the champion's reference too."""

    name: str
    periods: tuple[str, ...]
    with_reference: bool
    weighted: bool
    description: str


def candidate_windows(
    periods: Sequence[str], change: ChangePoint | None, thresholds: Thresholds
) -> list[TrainingWindow]:
    """The windows to try, given the labelled months a challenger may learn from (oldest first).

    ``periods`` are the months outside the validation rows (the newest month's early part,
    when it is split in time, is named like its month). Without a located change there is
    one window, everything; "since the change" needs the change to begin within ``periods``.
    """
    names = tuple(periods)
    half_life = thresholds.recency_half_life_months
    windows = [
        TrainingWindow(
            WINDOW,
            names,
            with_reference=True,
            weighted=False,
            description="the champion's training data and every matured month",
        )
    ]
    if change is None:
        return windows  # nothing to be recent about: more data, no assumption
    if change.period in names:
        since = names[names.index(change.period) :]
        windows.append(
            TrainingWindow(
                SINCE_CHANGE,
                since,
                with_reference=False,
                weighted=False,
                description=f"only the months since the change began ({change.period})",
            )
        )
    windows.append(
        TrainingWindow(
            WEIGHTED,
            names,
            with_reference=True,
            weighted=True,
            description=f"everything, each month weighted half as much as the next "
            f"(half-life {half_life:g} months)",
        )
    )
    return windows


def recency_weight(age_months: float, half_life_months: float) -> float:
    """The weight of rows ``age_months`` older than the newest learned month (which weighs 1)."""
    if half_life_months <= 0:
        return 1.0
    return float(0.5 ** (max(age_months, 0.0) / half_life_months))


@dataclass(frozen=True)
class WindowScore:
    """A trained candidate: its window, rows and score on the validation rows."""

    window: TrainingWindow
    rows: int
    validation_score: float | None  # None: it could not be trained (too few rows, one class)
    note: str = ""


def choose_window(scores: Sequence[WindowScore], metric: str) -> tuple[WindowScore, str]:
    """The best candidate on the validation rows, and why, in one sentence.

    Ties go to the earlier candidate (everything matured first): more data, no extra
    assumption about where the change began.
    """
    trained = [s for s in scores if s.validation_score is not None]
    if not trained:
        raise ValueError("no candidate window could be trained")
    best = trained[0]
    for candidate in trained[1:]:
        if candidate.validation_score is not None and best.validation_score is not None:
            if candidate.validation_score > best.validation_score + 1e-9:
                best = candidate
    others = [s for s in trained if s is not best]
    if not others:
        return best, f"{best.window.name} is the only window that could be trained"
    runner = max(others, key=lambda s: s.validation_score or 0.0)
    assert best.validation_score is not None and runner.validation_score is not None
    margin = best.validation_score - runner.validation_score
    return best, (
        f"{best.window.name} scored the best validation {metric} "
        f"{best.validation_score:.4f} ({margin:+.4f} over {runner.window.name})"
    )
