"""The monthly cycle end to end, on small synthetic data with a real MLflow store."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import files_in, run_cli, use_empty_store, use_trained_store

from pipeline.config import load_settings
from pipeline.edges.registry import Registry

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models


@pytest.fixture
def fresh_registry(project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_empty_store(project, empty_store, monkeypatch, "cycle.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "artifacts"))
    return project


def _aliases() -> dict[str, int]:
    settings = load_settings()
    registry = Registry(settings, settings.model("attrition"))
    return {
        alias: info.version
        for alias in ("champion", "challenger", "previous")
        if (info := registry.by_alias(alias)) is not None
    }


def test_plain_month_then_drifted_month_then_promotion_and_rollback(
    fresh_registry: Path,
) -> None:
    project = fresh_registry
    first = run_cli("run", "--period", "2026-10", "--dry-run")
    assert first.code == 0, first.stderr
    cycle = json.loads(first.stdout)
    assert cycle["bootstrapped_version"] == 1
    assert cycle["drift_detected"] is False and cycle["retrain_decision"] == "skip"
    october = project / "outputs" / "attrition" / "2026-10"
    assert {
        "predict.json",
        "predictions.parquet",
        "drift.json",
        "drift_report.html",
        "retrain.json",
        "issue.md",
        "issue.json",
        "cycle.json",
    } <= set(files_in(october))
    assert (october / "issue.md").read_text().startswith("**No drift**: all 30 features stable")
    assert _aliases() == {"champion": 1}  # a first version has nothing to challenge
    # A stable month: the champion's estimated ROC AUC brackets the realized one.
    estimated = json.loads((october / "drift.json").read_text())["estimated_performance"]
    realized = json.loads((october / "drift.json").read_text())["concept_drift"]["current"]
    assert estimated["metric"] == "roc_auc" and estimated["method"] == "cbpe"
    assert estimated["lower"] <= realized <= estimated["upper"]
    assert "held-out test split of v1" in estimated["calibrated_on"]
    assert (
        "| 2026-10 | v1 |"
        in (october / "issue.md").read_text().split("## Performance over time")[1]
    )

    second = run_cli("run", "--period", "2026-11", "--simulate-drift", "--dry-run")
    assert second.code == 0, second.stderr
    november = project / "outputs" / "attrition" / "2026-11"
    drift = json.loads((november / "drift.json").read_text())
    assert drift["drift_detected"] is True
    assert "MonthlyIncome" in drift["drifted_features"]
    assert drift["concept_drift"]["detected"] is True
    retrain = json.loads((november / "retrain.json").read_text())
    assert retrain["retrained"] is True and retrain["challenger_version"] == 2
    assert retrain["decision"] in ("promote", "keep") and retrain["reasons"]
    assert retrain["comparison"]["champion"] is not None
    issue = (november / "issue.md").read_text()
    assert issue.startswith("**Drift detected**")
    assert "| MonthlyIncome | ks |" in issue
    # The Evidently report opens with the same verdict, reasons and drifted columns first.
    report = (november / "drift_report.html").read_text()
    banner = report[report.index('<div id="driftgate-verdict"') :].split("</div>")[0]
    body = report[report.index("<body") :]
    assert body.index("driftgate-verdict") < body.index("<script")  # before Evidently's own
    assert "Driftgate verdict: Drift detected" in banner
    for reason in drift["reasons"]:
        assert html.escape(reason) in banner and reason in issue
    cells = re.findall(r"<tr><td>([^<]+)</td>", banner)
    assert cells[: len(drift["drifted_features"])] == drift["drifted_features"]
    assert "p &lt; 0.00167" in banner
    # One rule under one word: no headline of Evidently's own dataset rule contradicts it.
    assert "Dataset Drift is" not in report and "Dataset drift detection threshold" not in report
    assert "<b>Detected</b>" in banner and "drift alone retrains at 30%" in issue
    assert 'x-axis ["2026-10", "2026-11"]' in issue
    # Operational metrics: in the issue, and one MLflow run per report.
    operations = issue.split("## Operations")[1].split("##")[0]
    assert "- Rows scored: 1000 of 1000" in operations
    assert re.search(r"Prediction latency: \d+\.\d{3} s per 1,000 rows", operations)
    assert re.search(r"Processing time: predict [\d.]+ s, drift [\d.]+ s, retrain", operations)
    settings = load_settings()
    [ops, _] = Registry(settings, settings.model("attrition")).step_runs("operations")
    assert ops["metrics"]["scored_rows"] == 1000 and ops["metrics"]["seconds_retrain"] > 0
    assert _aliases() == {"champion": 1, "challenger": 2}
    log_lines = (project / "outputs" / "attrition" / "prediction_log.jsonl").read_text()
    assert len(log_lines.splitlines()) == 2

    promoted = run_cli("promote", "--model-version", "2")
    assert promoted.code == 0, promoted.stderr
    assert json.loads(promoted.stdout)["changed"] is True
    assert _aliases() == {"champion": 2, "challenger": 2, "previous": 1}
    again = run_cli("promote", "--run-id", retrain["challenger_run_id"])
    assert again.code == 0 and json.loads(again.stdout)["changed"] is False

    rolled = run_cli("rollback")
    assert rolled.code == 0, rolled.stderr
    assert _aliases() == {"champion": 1, "challenger": 2, "previous": 2}

    history = run_cli("history")
    assert history.code == 0, history.stderr
    table = history.stdout.splitlines()
    assert table[0] == "attrition: model card names none as champion"
    versions = [line for line in table if re.match(r"v\d", line)]
    assert [line.split()[0] for line in versions] == ["v2", "v1"]  # newest first
    assert "challenger,previous" in versions[0] and "rollback: manual rollback" in versions[0]
    assert versions[1].split()[2] == "champion"
    drift_rows = [line for line in table if re.match(r"2026-\d\d ", line)]
    assert [row.split()[:2] for row in drift_rows] == [
        ["2026-11", "drift"],
        ["2026-10", "no_drift"],
    ]
    # The decision record: every verdict, newest first, with where it came from.
    decisions = [line.split()[1:4] for line in table if re.match(r"2026-\d\d-\d\dT", line)]
    assert decisions[0] == ["v2", "rollback", "command"]
    assert decisions[1] == ["v2", "promote", "command"]
    assert ["v2", "propose", "retrain"] in decisions or ["v2", "keep", "retrain"] in decisions
    assert decisions[-3:] == [
        ["2026-10", "data", "skip"],
        ["2026-10", "data", "no_drift"],
        ["v1", "promote", "first"],  # the bootstrap's first version, from "first training"
    ]
    assert ["2026-11", "data", "retrain"] in decisions and ["2026-11", "data", "drift"] in decisions
    as_json = json.loads(run_cli("history", "--json").stdout)
    assert [v["version"] for v in as_json["versions"]] == [2, 1]


def test_promote_unknown_version_or_run(fresh_registry: Path) -> None:
    assert run_cli("train").code == 0
    missing = run_cli("promote", "--model-version", "42")
    assert missing.code != 0
    assert missing.stderr.strip() == "error: model 'attrition' has no version 42 in the registry"
    unknown = run_cli("promote", "--run-id", "0123abcd")
    assert unknown.code != 0
    assert "no version of model 'attrition' was trained by run '0123abcd'" in unknown.stderr


def test_predict_rejects_rows_and_refuses_bad_batches(fresh_registry: Path) -> None:
    import pandas as pd

    from pipeline.model.synthetic import generate

    project = fresh_registry
    assert run_cli("train").code == 0
    settings = load_settings()
    batch = generate(settings.model("attrition"), 500, seed=9)
    batch.loc[[0, 1], "Age"] = float("nan")
    batch.loc[2, "Age"] = 150
    good = project / "batch.csv"
    batch.to_csv(good, index=False)
    result = run_cli("predict", "--input", str(good), "--out", "scored")
    assert result.code == 0, result.stderr
    summary = json.loads((project / "scored" / "predict.json").read_text())
    assert summary["rows"] == 500 and summary["rejected_rows"] == 3
    assert summary["rejection_reasons"] == {"missing Age": 2, "Age outside [14, 100]": 1}
    scored = pd.read_parquet(project / "scored" / "predictions.parquet")
    assert len(scored) == 500 and scored["score"].isna().sum() == 3

    bad = project / "bad.csv"
    batch.drop(columns="OverTime").to_csv(bad, index=False)
    failed = run_cli("predict", "--input", str(bad), "--out", "failed")
    assert failed.code != 0 and "missing column(s) 'OverTime'" in failed.stderr
    assert files_in(project / "failed") == []


def _without_run_facts(result: dict[str, object]) -> dict[str, object]:
    """A result file minus what differs between any two runs: times, ids, the engine's name."""
    varying = {"seconds", "rows_per_second", "created_at", "chunk_rows", "engine", "mlflow_run_id"}
    return {k: v for k, v in result.items() if k not in varying}


@pytest.mark.xdist_group("spark")  # on the worker whose Spark is up (tests/test_engines.py)
def test_the_same_month_on_both_engines_reads_the_same(
    project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pipeline run --engine spark` (local mode) against the pandas engine on the same batch:
    the same predictions, drift verdict and issue."""
    pytest.importorskip("pyspark", reason="the spark engine needs the 'spark' extra")
    # The session's trained champion: the first run would otherwise train one (bootstrap).
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "cycle.db")
    month = project / "outputs" / "attrition" / "2026-11"
    results = {}
    for engine in ("pandas", "spark"):
        # Without retrain: each run would train its own challenger (v2, then v3).
        done = run_cli(
            "run",
            "--period",
            "2026-11",
            "--simulate-drift",
            "--dry-run",
            "--steps",
            "predict,drift,report",
            "--engine",
            engine,
        )
        assert done.code == 0, done.stderr
        assert json.loads(done.stdout)["drift_detected"] is True
        predict = json.loads((month / "predict.json").read_text())
        assert predict["engine"] == engine
        results[engine] = {
            "predict": _without_run_facts(predict),
            "drift": _without_run_facts(json.loads((month / "drift.json").read_text())),
            "issue": (month / "issue.md").read_text(),
            "scores": pd.read_parquet(month / "predictions.parquet")
            .sort_values("EmployeeNumber")["score"]
            .to_numpy(),
        }
    pandas_month, spark_month = results["pandas"], results["spark"]
    assert (month / "predictions.parquet").is_dir(), "Spark writes a folder of parts"
    assert abs(pandas_month["scores"] - spark_month["scores"]).max() <= 1e-9
    mean = pandas_month["predict"].pop("mean_score")  # summed in another order
    assert spark_month["predict"].pop("mean_score") == pytest.approx(mean, abs=1e-12)
    assert spark_month["predict"] == pandas_month["predict"]
    assert spark_month["drift"] == pandas_month["drift"]
    # What reviewers read: the same issue, but for the run's own links and times.
    assert _stable_issue(spark_month["issue"]) == _stable_issue(pandas_month["issue"])


def _stable_issue(text: str) -> str:
    return re.sub(r"[\d,.]+ rows/s|\d+(\.\d+)? s\b|[0-9a-f]{32}", "<varies>", str(text))
