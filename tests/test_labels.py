"""Late labels: `pipeline labels` joins them to their period's predictions, once, or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import files_in, run_cli, use_trained_store
from sklearn.metrics import f1_score, roc_auc_score

from pipeline.config import ModelConfig, load_settings
from pipeline.edges.registry import Registry
from pipeline.model.synthetic import generate

pytestmark = pytest.mark.slow  # a trained champion in a real MLflow store


@pytest.fixture
def scored(
    project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch, config: ModelConfig
) -> pd.DataFrame:
    """Period 2026-05 scored by champion v1 and checked for drift; its labels not yet known."""
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "labels.db")
    batch = generate(config, 600, seed=5, start_id=202605 * 10**6)
    batch.drop(columns=[config.target]).to_csv(project / "2026-05.csv", index=False)
    for step in ("predict", "drift"):
        source = "--input" if step == "predict" else "--current"
        done = run_cli(step, source, str(project / "2026-05.csv"), "--period", "2026-05")
        assert done.code == 0, done.stderr
    return batch


def _label_file(project: Path, batch: pd.DataFrame, name: str, rows: slice) -> Path:
    path = project / name
    batch[["EmployeeNumber", "Attrition"]].iloc[rows].to_csv(path, index=False)
    return path


def test_late_labels_record_the_period_s_realized_performance_next_to_its_estimate(
    project: Path, scored: pd.DataFrame
) -> None:
    first = _label_file(project, scored, "labels-a.csv", slice(0, 400))
    done = run_cli("labels", "--file", str(first))
    assert done.code == 0, done.stderr
    ingest = json.loads(done.stdout)
    assert (ingest["period"], ingest["new_labels"], ingest["changed"]) == ("2026-05", 400, True)

    out = project / "outputs" / "attrition" / "2026-05"
    performance = json.loads((out / "performance.json").read_text())
    predictions = pd.read_parquet(out / "predictions.parquet").head(400)
    truth = (scored["Attrition"].head(400) == "Yes").to_numpy()
    assert performance["model_version"] == 1 and performance["labelled_rows"] == 400
    assert performance["metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(truth, predictions["score"]), abs=1e-4
    )
    assert performance["metrics"]["f1"] == pytest.approx(
        f1_score(truth, predictions["score"] >= 0.5), abs=1e-4
    )
    estimated = json.loads((out / "drift.json").read_text())["estimated_performance"]
    assert performance["estimated"] == estimated
    assert performance["estimation_error"] == pytest.approx(
        estimated["value"] - performance["metrics"]["roc_auc"], abs=1e-4
    )

    # On the period's drift run in MLflow, with the estimate it is compared with.
    settings = load_settings()
    registry = Registry(settings, settings.model("attrition"))
    run = registry.client.get_run(json.loads((out / "drift.json").read_text())["mlflow_run_id"])
    assert run.data.metrics["realized_roc_auc"] == performance["metrics"]["roc_auc"]
    assert run.data.metrics["estimated_roc_auc"] == estimated["value"]

    # The rest of the period's labels arrive later, from a Parquet file: they add up.
    rest = project / "labels-b.parquet"
    scored[["EmployeeNumber", "Attrition"]].iloc[300:].to_parquet(rest, index=False)
    more = run_cli("labels", "--file", str(rest), "--period", "2026-05")
    assert more.code == 0, more.stderr
    assert json.loads(more.stdout)["new_labels"] == 200
    assert json.loads((out / "performance.json").read_text())["labelled_rows"] == 600


def test_ingesting_the_same_file_twice_changes_nothing(project: Path, scored: pd.DataFrame) -> None:
    path = _label_file(project, scored, "labels.csv", slice(0, 300))
    assert run_cli("labels", "--file", str(path)).code == 0
    out = project / "outputs" / "attrition" / "2026-05"
    before = {name: (out / name).read_bytes() for name in ("labels.parquet", "performance.json")}
    again = run_cli("labels", "--file", str(path))
    assert again.code == 0 and json.loads(again.stdout)["changed"] is False
    assert {name: (out / name).read_bytes() for name in before} == before


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: f.assign(EmployeeNumber=f["EmployeeNumber"] + 10**9),
            "error: labels.csv has 50 id(s) that this period did not score (e.g. 203605000000)",
        ),
        (
            lambda f: pd.concat([f, f.head(2)]),
            "error: labels.csv has 2 duplicate id(s) (e.g. 202605000000 appears 2 times)",
        ),
        (
            lambda f: f.assign(Attrition=["maybe"] * 3 + list(f["Attrition"][3:])),
            "error: labels.csv has 3 row(s) whose 'Attrition' is not one of 'No', 'Yes' "
            "(e.g. 'maybe' for id 202605000000)",
        ),
        (
            lambda f: f.drop(columns=["Attrition"]),
            "error: labels.csv is missing column(s) 'Attrition': a label file holds the id "
            "column 'EmployeeNumber' and the target 'Attrition'",
        ),
    ],
    ids=["unknown-ids", "duplicate-ids", "unknown-labels", "no-target"],
)
def test_a_bad_label_file_is_one_line_and_writes_nothing(
    project: Path, scored: pd.DataFrame, change: object, message: str
) -> None:
    out = project / "outputs" / "attrition" / "2026-05"
    before = files_in(out)
    frame = scored[["EmployeeNumber", "Attrition"]].head(50)
    change_frame = change(frame)  # type: ignore[operator]
    change_frame.to_csv(project / "labels.csv", index=False)
    done = run_cli("labels", "--file", "labels.csv", "--period", "2026-05")
    assert done.code == 3
    assert done.stderr.strip().splitlines()[-1] == message
    assert files_in(out) == before


def test_labels_for_a_period_without_predictions_or_relabelled_differently_are_refused(
    project: Path, scored: pd.DataFrame
) -> None:
    path = _label_file(project, scored, "labels.csv", slice(0, 20))
    nowhere = run_cli("labels", "--file", str(path), "--period", "2026-02")
    assert nowhere.code == 3
    assert (
        nowhere.stderr.strip()
        .splitlines()[-1]
        .startswith("error: attrition has no predictions for period 2026-02")
    )
    assert run_cli("labels", "--file", str(path)).code == 0
    flipped = scored[["EmployeeNumber", "Attrition"]].head(20).copy()
    flipped["Attrition"] = flipped["Attrition"].map({"Yes": "No", "No": "Yes"})
    flipped.to_csv(project / "flipped.csv", index=False)
    clash = run_cli("labels", "--file", "flipped.csv")
    assert clash.code == 3
    assert "gives 20 id(s) of period 2026-05 a different label than before" in clash.stderr
