"""How a replayed policy is judged: degradations, recoveries, missed ones, bad promotions."""

from __future__ import annotations

from pipeline.config import Thresholds
from pipeline.monitoring.backtest import BacktestMonth, PolicyMonth, degradations, summarize
from pipeline.reporting.backtest import recovery_cell

T = Thresholds(max_metric_drop=0.05)


def _months(mine: list[tuple[str, float, float, str]], best: list[float]) -> list[BacktestMonth]:
    """Months of one policy (action, metric, trained metric, version) beside a best one."""
    months = []
    for index, ((action, metric, trained, version), top) in enumerate(zip(mine, best)):
        months.append(
            BacktestMonth(
                f"2026-{index + 1:02d}",
                {
                    "mine": PolicyMonth(action, version, metric, trained),
                    "best": PolicyMonth("serve", "b", top, top),
                },
            )
        )
    return months


def test_a_drop_is_recovered_by_a_new_model_not_by_a_retrain_that_kept_the_old_one() -> None:
    mine = [
        ("serve", 0.85, 0.86, "v1"),
        ("serve", 0.72, 0.86, "v1"),  # the change: 0.14 below its own test metric
        ("serve", 0.71, 0.86, "v1"),
        ("retrain-keep", 0.72, 0.86, "v1"),  # a refused retrain is no recovery
        ("retrain-promote", 0.73, 0.86, "v1"),
        ("serve", 0.83, 0.84, "v2"),  # the new champion serves: within 0.05 of the best
        ("serve", 0.84, 0.84, "v2"),
    ]
    best = [0.85, 0.72, 0.72, 0.80, 0.82, 0.84, 0.85]
    months = _months(mine, best)
    assert degradations(months, "mine", T) == [(1, 5)]
    summary = summarize(months, "mine", T, label_delay_months=3)
    assert summary.recoveries == [4] and summary.months_to_recover == 4
    assert summary.missed_degradations == 0
    # With labels one month late, four months is more than delay + 2: missed.
    assert summarize(months, "mine", T, label_delay_months=1).missed_degradations == 1


def test_never_recovered_is_missed_unless_it_began_too_recently_to_judge() -> None:
    stuck = [("serve", 0.85, 0.86, "v1")] + [("serve", 0.70, 0.86, "v1")] * 7
    best = [0.85] + [0.80] * 7
    summary = summarize(_months(stuck, best), "mine", T, label_delay_months=1)
    assert summary.recoveries == [None] and summary.missed_degradations == 1
    assert recovery_cell(summary.recoveries, summary.recovering) == "never"
    recent = summarize(_months(stuck[:3], best[:3]), "mine", T, label_delay_months=3)
    assert recent.missed_degradations == 0 and recent.recovering == 1
    assert recovery_cell(recent.recoveries, recent.recovering) == "not yet"
    assert recovery_cell([], 0) == "-"


def test_a_promotion_worse_in_hindsight_is_a_bad_one() -> None:
    months = _months([("serve", 0.8, 0.8, "v1"), ("retrain-promote", 0.8, 0.8, "v1")], [0.8, 0.8])
    months[1].policies["mine"].promotion_gain = -0.004
    assert summarize(months, "mine", T, 1).bad_promotions == 1
    months[1].policies["mine"].promotion_gain = 0.01
    assert summarize(months, "mine", T, 1).bad_promotions == 0
