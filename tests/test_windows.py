"""Change-aware training data: where the change began, which windows are tried, which wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ModelConfig, Thresholds
from pipeline.model.synthetic import generate
from pipeline.model.train import WEIGHT_COLUMN, refit
from pipeline.model.trainingsets import (
    LabelledMonth,
    choose_training_rows,
    split_validation,
    window_rows,
)
from pipeline.monitoring.windows import (
    SINCE_CHANGE,
    WEIGHTED,
    WINDOW,
    ChangePoint,
    MonthEvidence,
    TrainingWindow,
    WindowScore,
    candidate_windows,
    change_start,
    choose_window,
    recency_weight,
)

T = Thresholds()


def test_the_change_begins_at_the_first_month_of_the_latest_changed_run() -> None:
    evidence = [
        MonthEvidence("2026-01", realized_drop=0.01, drift_share=0.05),
        MonthEvidence("2026-02", realized_drop=0.09),  # an old blip, then calm
        MonthEvidence("2026-03", realized_drop=0.0, drift_share=0.1),
        MonthEvidence("2026-04", drift_share=0.5),
        MonthEvidence("2026-05", realized_drop=0.12, prediction_drifted=True),
    ]
    change = change_start(evidence, T)
    assert change is not None and change.period == "2026-04"
    assert change.evidence == ["2026-04: 50% of features drifted"]


def test_no_month_changed_no_change_and_one_window() -> None:
    calm = [MonthEvidence(f"2026-0{i}", realized_drop=0.01, drift_share=0.1) for i in (1, 2, 3)]
    assert change_start(calm, T) is None
    assert [w.name for w in candidate_windows(["2026-01", "2026-02"], None, T)] == [WINDOW]


def test_a_located_change_adds_the_months_since_and_a_recency_weighted_window() -> None:
    change = ChangePoint("2026-02", ["2026-02: x"])
    windows = candidate_windows(["2026-01", "2026-02", "2026-03"], change, T)
    assert [w.name for w in windows] == [WINDOW, SINCE_CHANGE, WEIGHTED]
    since = windows[1]
    assert since.periods == ("2026-02", "2026-03") and not since.with_reference
    assert windows[2].weighted and windows[2].with_reference


def test_recency_halves_per_half_life() -> None:
    assert recency_weight(0, 2) == 1.0
    assert recency_weight(2, 2) == pytest.approx(0.5)
    assert recency_weight(6, 2) == pytest.approx(0.125)
    assert recency_weight(5, 0) == 1.0  # no half-life: unweighted


def test_the_best_validation_score_wins_and_ties_keep_everything() -> None:
    window, since = (
        TrainingWindow(WINDOW, ("a",), True, False, ""),
        TrainingWindow(SINCE_CHANGE, ("a",), False, False, ""),
    )
    best, why = choose_window([WindowScore(window, 10, 0.7), WindowScore(since, 5, 0.8)], "auc")
    assert best.window.name == SINCE_CHANGE
    assert why == "since_change scored the best validation auc 0.8000 (+0.1000 over window)"
    tied, _ = choose_window([WindowScore(window, 10, 0.8), WindowScore(since, 5, 0.8)], "auc")
    assert tied.window.name == WINDOW
    skipped, why = choose_window([WindowScore(window, 10, 0.6), WindowScore(since, 5, None)], "a")
    assert skipped.window.name == WINDOW and "only window" in why


def _month(config: ModelConfig, name: str, seed: int, kind: str = "none") -> pd.DataFrame:
    frame = generate(config, 600, seed, kind, start_id=seed * 10**6)
    frame["__label__"] = (frame[config.target] == config.positive_class).astype("float64")
    return frame


def test_the_only_month_since_the_change_is_split_in_time(config: ModelConfig) -> None:
    months = [
        LabelledMonth("2026-01", _month(config, "2026-01", 1), learned=True),
        LabelledMonth("2026-02", _month(config, "2026-02", 2, "concept")),
    ]
    split = split_validation(months, ChangePoint("2026-02", []))
    assert split.split_in_time and split.newest == "2026-02"
    # The later half judges; the earlier half is learned, in the order the rows came.
    assert split.validation.index.tolist() == list(range(300, 600))
    assert [m.name for m in split.training] == ["2026-01", "2026-02"]
    assert split.training[-1].frame.index.tolist() == list(range(300))
    assert split.evaluated_on.startswith(
        "the later half of 2026-02's labelled rows (300, in the order"
    )
    # Several new months and a change before the newest: the newest month judges whole.
    months.insert(1, LabelledMonth("2026-015", _month(config, "x", 3)))
    whole = split_validation(months, ChangePoint("2026-015", []))
    assert not whole.split_in_time and len(whole.validation) == 600


def test_window_rows_leave_learned_months_to_the_reference_and_weigh_by_age(
    config: ModelConfig,
) -> None:
    reference = _month(config, "ref", 9)
    months = [
        LabelledMonth("2026-01", _month(config, "a", 1), learned=True),
        LabelledMonth("2026-02", _month(config, "b", 2)),
        LabelledMonth("2026-03", _month(config, "c", 3)),
        LabelledMonth("2026-04", _month(config, "d", 4)),
    ]
    split = split_validation(months, None)
    names = [m.name for m in split.training]
    everything = TrainingWindow(WINDOW, tuple(names), True, False, "")
    rows = window_rows(everything, reference, split, 2.0)
    assert len(rows) == 600 * 3 and WEIGHT_COLUMN not in rows  # reference + 02 + 03
    weighted = window_rows(
        TrainingWindow(WEIGHTED, tuple(names), True, True, ""), reference, split, 2
    )
    # 2026-03 is a month before the validation month 2026-04; the reference the oldest.
    by_age = weighted[WEIGHT_COLUMN].to_numpy()
    assert np.allclose(by_age[-600:], 0.5 ** (1 / 2)) and np.allclose(by_age[:600], 0.5 ** (3 / 2))
    since = window_rows(
        TrainingWindow(SINCE_CHANGE, ("2026-01", "2026-02"), False, False, ""), None, split, 2
    )
    assert len(since) == 1200  # learned months too: the reference is not used


@pytest.mark.slow
def test_after_a_concept_change_the_months_since_win(config: ModelConfig) -> None:
    reference = _month(config, "ref", 9)
    months = [
        LabelledMonth("2026-01", _month(config, "a", 1)),
        LabelledMonth("2026-02", _month(config, "b", 2, "concept")),
        LabelledMonth("2026-03", _month(config, "c", 3, "concept")),
    ]
    change = ChangePoint("2026-02", ["2026-02: realized ROC AUC 0.150 below the model's test"])
    split = split_validation(months, change)
    estimator = ("logistic_regression", {"C": 1.0})
    rows, choice, fitted = choose_training_rows(config, reference, split, change, estimator, 0)
    assert [c["window"] for c in choice.candidates] == [WINDOW, SINCE_CHANGE, WEIGHTED]
    assert choice.chosen in (SINCE_CHANGE, WEIGHTED), choice.candidates
    scores = {c["window"]: c["validation_score"] for c in choice.candidates}
    assert scores[choice.chosen] > scores[WINDOW]
    assert choice.why.startswith(f"{choice.chosen} scored the best validation roc_auc")
    # The winner's fit comes back: refitting the chosen rows would train the same model again.
    again = refit(config, *estimator, rows, 0)
    assert fitted is not None and fitted.test_metrics == again.test_metrics
    assert fitted.train_rows == again.train_rows
