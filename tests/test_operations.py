import time
from pathlib import Path

from pipeline.reporting.operations import TIMINGS_FILE, operations, record_seconds
from pipeline.results import read_json


def test_each_step_adds_its_time_to_the_periods_timings(tmp_path: Path) -> None:
    record_seconds(tmp_path, "predict", time.perf_counter() - 1.5)
    record_seconds(tmp_path, "drift", time.perf_counter())
    timings = read_json(tmp_path / TIMINGS_FILE)
    assert list(timings) == ["predict", "drift"] and timings["predict"] >= 1.5


def test_the_summary_comes_from_the_results_alone() -> None:
    predict = {
        "rows": 2000,
        "scored_rows": 1990,
        "rejected_rows": 10,
        "seconds": 0.5,
        "rejection_reasons": {"'Age' outside 14..100": 10},
        "missing_rates": {"MonthlyIncome": 0.02, "Age": 0.0},
        "model_version": 3,
    }
    summary = operations(predict, {}, {"predict": 1.25, "drift": 4.0})
    assert summary.seconds_per_1000_rows == 0.25
    assert summary.missing_rates == {"MonthlyIncome": 0.02}
    metrics = summary.metrics()
    assert metrics["seconds_total"] == 5.25 and metrics["rejected_rows"] == 10
    assert metrics["missing_rate_MonthlyIncome"] == 0.02 and metrics["seconds_predict"] == 1.25


def test_without_a_prediction_the_drift_quality_still_counts() -> None:
    drift = {"data_quality": {"current_rows": 500, "rejected_rows": 3, "missing_rates": {}}}
    summary = operations(None, drift, {})
    assert (summary.rows, summary.rejected_rows, summary.seconds_per_1000_rows) == (500, 3, None)
