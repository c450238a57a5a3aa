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


def summarize(
    months: list[BacktestMonth], policy: str, thresholds: Thresholds, label_delay_months: int
) -> PolicySummary:
    """``policy``'s numbers over ``months``.

    A missed degradation is a month whose realized metric fell more than ``max_metric_drop``
    below the serving model's own test metric with no retrain in that month or the
    ``label_delay_months + 1`` after it (the labels that would show it arrive that late).
    """
    records = [month.policies[policy] for month in months]
    values = [r.metric for r in records if r.metric is not None and not math.isnan(r.metric)]
    retrained = [r.action in RETRAIN_ACTIONS for r in records]
    missed = 0
    for index, record in enumerate(records):
        if record.metric is None or math.isnan(record.metric):
            continue
        if record.trained_metric - record.metric > thresholds.max_metric_drop:
            window = retrained[index : index + label_delay_months + 2]
            missed += not any(window)
    return PolicySummary(
        retrains=sum(retrained),
        promotions=sum(r.action == "retrain-promote" for r in records),
        mean_metric=round(sum(values) / len(values), 4) if values else float("nan"),
        worst_metric=round(min(values), 4) if values else float("nan"),
        months_below_gate=sum(v < thresholds.min_roc_auc for v in values),
        false_alarms=sum(r.false_alarm for r in records),
        missed_degradations=missed,
    )
