"""Drift on real data (the IBM table, when ../shared is present) and its false-alarm rate."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from conftest import IBM, REPO, run_cli, use_empty_store

from pipeline.config import ModelConfig
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.monitoring.drift import detect_drift

needs_ibm = pytest.mark.skipif(not IBM.exists(), reason="../shared/data is not beside the repo")
# Every test here runs Evidently: on one worker, which imports it once (5 s a process).
pytestmark = pytest.mark.xdist_group("evidently")


MODELS = sorted(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pipeline"]["models"])


def _halves(project: Path, seed: int) -> tuple[Path, pd.DataFrame]:
    table = pd.read_csv(IBM, encoding="utf-8-sig")
    first = table.sample(frac=0.5, random_state=seed)
    reference = project / "first_half.csv"
    first.to_csv(reference, index=False)
    return reference, table.drop(first.index)


@needs_ibm
def test_two_random_halves_of_the_ibm_table_do_not_drift(project: Path) -> None:
    reference, second = _halves(project, seed=1)
    current = project / "second_half.csv"
    second.to_csv(current, index=False)
    result = run_cli(
        "drift", "--reference", str(reference), "--current", str(current), "--out", "out"
    )
    assert result.code == 0, result.stderr
    drift = json.loads((project / "out" / "drift.json").read_text())
    assert drift["drift_detected"] is False
    assert drift["drifted_features"] == []
    assert len(drift["features"]) == 30
    assert (project / "out" / "drift_report.html").stat().st_size > 10_000


@needs_ibm
def test_monthly_income_times_one_and_a_half_is_caught_and_named(project: Path) -> None:
    reference, second = _halves(project, seed=1)
    current = project / "richer_half.csv"
    second.assign(MonthlyIncome=second["MonthlyIncome"] * 1.5).to_csv(current, index=False)
    result = run_cli(
        "drift", "--reference", str(reference), "--current", str(current), "--out", "out"
    )
    assert result.code == 0, result.stderr
    drift = json.loads((project / "out" / "drift.json").read_text())
    assert drift["drift_detected"] is True
    assert drift["drifted_features"] == ["MonthlyIncome"]
    row = drift["features"][0]
    assert row["name"] == "MonthlyIncome" and row["drifted"] and row["test"] == "ks"
    assert drift["mlflow_run_id"]


@pytest.mark.slow
def test_same_distribution_months_rarely_cry_wolf(config: ModelConfig) -> None:
    """20 same-distribution months against one reference: at most 2 false alarms (alpha 5%)."""
    reference = validate_batch(generate(config, 2000, seed=100), config, "reference")
    alarms = []
    for month in range(20):
        current = validate_batch(generate(config, 1000, seed=200 + month), config, "current")
        result, _ = detect_drift(
            config, reference, current, "reference", f"month {month}", snapshot_wanted=False
        )
        if result.drift_detected:
            alarms.append((month, result.drifted_features))
    assert len(alarms) <= 2, alarms


def test_a_shift_of_an_important_feature_is_caught(config: ModelConfig) -> None:
    reference = validate_batch(generate(config, 2000, seed=100), config, "reference")
    shifted = generate(config, 1000, seed=300, drift="covariate")
    result, _ = detect_drift(
        config, reference, validate_batch(shifted, config, "x"), "r", "c", snapshot_wanted=False
    )
    assert result.drift_detected
    assert "MonthlyIncome" in result.drifted_features


def test_without_a_snapshot_every_column_test_finds_what_the_report_finds(
    config: ModelConfig,
) -> None:
    """The backtest skips Evidently's charts; its verdicts must be the report's, to the digit."""
    from pipeline.model.train import refit

    table = generate(config, 3000, seed=8)
    reference = validate_batch(table, config, "reference")
    model = refit(config, "logistic_regression", {"C": 1.0}, reference.frame, seed=0).model
    # A month that drifts and one that does not: a concept month moves no feature, so it adds
    # nothing to the per-column comparison but 2 s.
    for drift in ("covariate", "none"):
        current = validate_batch(generate(config, 1000, seed=9, drift=drift), config, "x")
        drawn, snapshot = detect_drift(config, reference, current, "r", "c", model=model)
        plain, nothing = detect_drift(
            config, reference, current, "r", "c", model=model, snapshot_wanted=False
        )
        assert snapshot is not None and nothing is None
        assert [(f.name, f.score, f.drifted) for f in plain.features] == [
            (f.name, f.score, f.drifted) for f in drawn.features
        ]
        assert plain.prediction_drift == drawn.prediction_drift
        assert (plain.verdict, plain.reasons) == (drawn.verdict, drawn.reasons)


def test_an_overfit_champion_shows_no_prediction_drift_on_another_half_of_its_world(
    config: ModelConfig,
) -> None:
    """Scores are compared with the champion's held-out scores, not its training rows scored
    in-sample: an overfit model is surer of those than of anything new."""
    from pipeline.model.train import refit

    table = generate(config, 4000, seed=5, start_id=10**6)
    first, second = table.iloc[:2000], table.iloc[2000:]
    reference = validate_batch(first, config, "first half")
    current = validate_batch(second.drop(columns=[config.target]), config, "second half")
    # Deep trees on every row: training rows score near 0 or 1, new rows do not.
    overfit = refit(
        config,
        "random_forest",
        {"n_estimators": 100, "max_depth": None, "min_samples_leaf": 1},
        reference.frame,
        seed=0,
    )
    held_out = (overfit.test_scores, "the held-out test split")
    # No page: the scores' test is the same without it (the test above), at a tenth of the time.
    honest, _ = detect_drift(
        config,
        reference,
        current,
        "r",
        "c",
        model=overfit.model,
        reference_scores=held_out,
        snapshot_wanted=False,
    )
    assert honest.prediction_drift is not None and not honest.prediction_drift.detected
    assert honest.prediction_drift.reference_scores == "the held-out test split (400 rows)"
    # The same month against in-sample scores: the false alarm this guards against.
    in_sample, _ = detect_drift(
        config, reference, current, "r", "c", model=overfit.model, snapshot_wanted=False
    )
    assert in_sample.prediction_drift is not None and in_sample.prediction_drift.detected


@pytest.mark.parametrize("model", MODELS)
def test_drift_with_no_champion_writes_its_result_and_report_for_every_model(
    project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    # An empty registry: no champion, so no scores; sms_spam's only feature is text, which
    # leaves Evidently nothing to test.
    use_empty_store(project, empty_store, monkeypatch, "empty.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "empty-artifacts"))
    reference, current = project / f"{model}-reference.csv", project / f"{model}-current.csv"
    for path, seed in ((reference, "0"), (current, "1")):
        made = run_cli("data", "generate", "--model", model, "--seed", seed, "--out", str(path))
        assert made.code == 0, made.stderr
    out = project / "drift-out" / model
    done = run_cli(
        "drift", "--model", model, "--reference", str(reference), "--current", str(current),
        "--period", "2026-11", "--out", str(out),
    )  # fmt: skip
    assert done.code == 0, done.stderr
    result = json.loads((out / "drift.json").read_text())
    assert result["model_version"] is None and result["verdict"] in ("drift", "no_drift")
    page = (out / "drift_report.html").read_text()
    assert page.count('id="driftgate-verdict"') == 1
