"""How a retrain policy did over a replayed history: the numbers that compare policies.

Pure computation on the months a replay recorded (``steps/backtest.py`` runs the replay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pipeline.config import Thresholds

POLICIES = ("never", "monthly", "drift", "estimated", "default")
RETRAIN_ACTIONS = ("retrain-keep", "retrain-promote")


@dataclass
class PolicyMonth:
    """What one policy did in one month, and how its serving model did in hindsight."""

    action: str  # "serve", "retrain-keep" or "retrain-promote"
    version: str  # the serving model during the month
    metric: float | None  # its realized ROC AUC on the month's labels (known in hindsight)
    trained_metric: float  # its ROC AUC on its own held-out test split at training
    false_alarm: bool = False  # a retrain whose challenger was not better in hindsight
    reasons: list[str] = field(default_factory=list)
    # A promotion, judged in hindsight on the months that followed it: the promoted model's mean
    # realized ROC AUC minus the replaced one's on the same months (None: no month followed).
    promotion_gain: float | None = None
    window: str | None = None  # the training window a retrain chose (``monitoring.windows``)


@dataclass
class BacktestMonth:
    period: str
    policies: dict[str, PolicyMonth]


@dataclass
class PolicySummary:
    retrains: int
    promotions: int
    mean_metric: float
    worst_metric: float
    months_below_gate: int
    false_alarms: int
    missed_degradations: int
    # One entry per degradation (below): months from its first month to recovery, None when
    # it never recovered within the history. The worst is the column people read.
    recoveries: list[int | None] = field(default_factory=list)
    months_to_recover: int | None = None
    bad_promotions: int = 0
    # Unrecovered degradations that began too recently to call missed (the last ones).
    recovering: int = 0


def degradations(
    months: list[BacktestMonth], policy: str, thresholds: Thresholds
) -> list[tuple[int, int | None]]:
    """``policy``'s degradations: (first month, month of recovery or None), by month index.

    A month is degraded when the serving model's realized metric is more than
    ``max_metric_drop`` below its own test metric: the month whose labels, once they arrive,
    show the drop. It is recovered at the first later month served by a model that is not
    degraded and is within ``max_metric_drop`` of the best policy's metric that month: a
    retrain that kept the old champion recovers nothing.
    """
    records = [month.policies[policy] for month in months]
    best = [_best(month) for month in months]
    episodes: list[tuple[int, int | None]] = []
    start: int | None = None
    for index, record in enumerate(records):
        if record.metric is None or math.isnan(record.metric):
            continue
        degraded = record.trained_metric - record.metric > thresholds.max_metric_drop
        if start is None:
            if degraded:
                start = index
            continue
        if not degraded and record.metric >= best[index] - thresholds.max_metric_drop:
            episodes.append((start, index))
            start = None
    if start is not None:
        episodes.append((start, None))
    return episodes


def _best(month: BacktestMonth) -> float:
    values = [r.metric for r in month.policies.values() if r.metric is not None]
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else float("nan")


def summarize(
    months: list[BacktestMonth], policy: str, thresholds: Thresholds, label_delay_months: int
) -> PolicySummary:
    """``policy``'s numbers over ``months``.

    A missed degradation is one (``degradations``) not recovered within
    ``label_delay_months + 2`` months of its first month: the labels that show it arrive
    ``label_delay_months`` later, a retrain then needs a month to serve. A bad promotion is
    one whose model did worse than the model it replaced on the months that followed.
    """
    records = [month.policies[policy] for month in months]
    values = [r.metric for r in records if r.metric is not None and not math.isnan(r.metric)]
    retrained = [r.action in RETRAIN_ACTIONS for r in records]
    episodes = degradations(months, policy, thresholds)
    recoveries = [None if end is None else end - start for start, end in episodes]
    allowed = label_delay_months + 2
    missed = sum(r is None or r > allowed for r in recoveries)
    # An unrecovered degradation that began too recently to judge is not counted as missed.
    last = len(months) - 1
    recovering = sum(1 for (start, end) in episodes if end is None and last - start <= allowed)
    missed -= recovering
    known = [r for r in recoveries if r is not None]
    unrecovered = any(end is None and last - start > allowed for start, end in episodes)
    return PolicySummary(
        retrains=sum(retrained),
        promotions=sum(r.action == "retrain-promote" for r in records),
        mean_metric=round(sum(values) / len(values), 4) if values else float("nan"),
        worst_metric=round(min(values), 4) if values else float("nan"),
        months_below_gate=sum(v < thresholds.min_roc_auc for v in values),
        false_alarms=sum(r.false_alarm for r in records),
        missed_degradations=missed,
        recoveries=recoveries,
        months_to_recover=None if unrecovered or not known else max(known),
        bad_promotions=sum(r.promotion_gain is not None and r.promotion_gain < 0 for r in records),
        recovering=recovering,
    )
