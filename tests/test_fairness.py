from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, use_empty_store

from pipeline.config import FairnessConfig, load_settings
from pipeline.errors import ConfigError
from pipeline.monitoring.fairness import FairnessReport, band_names, fairness_report, group_labels

REPO = Path(__file__).resolve().parents[1]
SETTINGS = FairnessConfig(
    attributes=("Gender", "Age"), bands={"Age": (30.0, 40.0, 50.0)}, min_group_rows=3
)


def test_age_bands_are_named_and_ordered_by_age() -> None:
    assert band_names((50.0, 30.0, 40.0)) == ["<30", "30-39", "40-49", "50+"]
    groups = group_labels(pd.Series([18, 30, 39, 40, 64, None]), (30.0, 40.0, 50.0))
    assert groups.tolist() == ["<30", "30-39", "30-39", "40-49", "50+", "(missing)"]


def test_rates_per_group_and_their_ratio() -> None:
    frame = pd.DataFrame({"Gender": ["F"] * 4 + ["M"] * 4, "Age": [25] * 8})
    labels = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    predicted = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    report = fairness_report(frame, labels, predicted, SETTINGS, "test split")
    gender = report.attributes[0]
    female, male = gender.groups
    assert (female.group, female.selection_rate, female.tpr, female.fpr) == ("F", 0.25, 0.5, 0.0)
    assert (male.group, male.selection_rate, male.tpr, male.fpr) == ("M", 0.75, 1.0, 0.5)
    assert gender.ratios["selection_rate"] == pytest.approx(1 / 3)
    assert gender.ratios["tpr"] == 0.5
    # One age band only: no ratio, so no metric the gate could read.
    ratios = {k: v for k, v in report.metrics().items() if not k.endswith("_upper")}
    assert ratios == {
        "fairness_Gender_selection_rate_ratio": pytest.approx(1 / 3),
        "fairness_Gender_tpr_ratio": 0.5,
        "fairness_Gender_fpr_ratio": 0.0,
    }


def test_small_groups_are_shown_but_left_out_of_the_ratio() -> None:
    frame = pd.DataFrame({"Gender": ["F"] * 4 + ["M"] * 4 + ["X"], "Age": [25] * 9})
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1])
    predicted = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0])
    gender = fairness_report(frame, labels, predicted, SETTINGS, "x").attributes[0]
    assert [g.group for g in gender.groups] == ["F", "M", "X"]
    assert gender.small_groups == ["X"]
    assert gender.ratios["selection_rate"] == 1.0  # X selects nobody but has 1 row


def test_a_missing_attribute_is_reported_not_fatal_and_round_trips() -> None:
    frame = pd.DataFrame({"Gender": ["F", "M", "F", "M", "F", "M"]})
    report = fairness_report(frame, np.array([1, 0] * 3), np.array([1, 0] * 3), SETTINGS, "x")
    assert report.missing == ["Age"]
    again = FairnessReport.from_json(
        {"evaluated_on": "x", "rows": 6, "attributes": [], "missing": ["Age"]}
    )
    assert again.missing == ["Age"] and again.metrics() == {}


def _settings_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "pyproject.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_sensitive_column_is_reported_but_not_a_model_input(tmp_path: Path) -> None:
    gender = 'Gender = { kind = "categorical", '
    path = _settings_with(tmp_path, gender, gender + 'role = "sensitive", ')
    config = load_settings(path, environ={}).model("attrition")
    assert "Gender" not in config.features
    assert "Gender" in config.fairness.attributes
    baseline = load_settings(REPO / "pyproject.toml", environ={}).model("attrition")
    assert "Gender" in baseline.features


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('attributes = ["Gender",', 'attributes = ["Height",', "'Height' is not a column"),
        ('gate_metric = "selection_rate"', 'gate_metric = "ppv"', "gate_metric must be one of"),
        ('gate_attributes = ["Gender"]', 'gate_attributes = ["Department"]', "Department"),
    ],
)
def test_fairness_settings_errors_name_the_setting(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_settings_with(tmp_path, old, new), environ={})


@pytest.mark.slow
def test_a_model_trained_without_its_sensitive_column_still_reports_on_it(
    project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.edges.registry import Registry

    gender = 'Gender = { kind = "categorical", '
    path = _settings_with(project, gender, gender + 'role = "sensitive", ')
    monkeypatch.setenv("PIPELINE_CONFIG", str(path))
    use_empty_store(project, empty_store, monkeypatch, "sensitive.db")
    trained = run_cli("train")
    assert trained.code == 0, trained.stderr
    settings = load_settings()
    registry = Registry(settings, settings.model("attrition"))
    version = registry.version(1)
    assert "Gender" not in registry.input_schema(1) and "Age" in registry.input_schema(1)
    assert "test_fairness_Gender_selection_rate_ratio" in version.metrics
    report = registry.run_json(version.run_id, "fairness/fairness.json")
    assert report and [a["attribute"] for a in report["attributes"]][0] == "Gender"


def test_the_upper_bound_is_wide_on_few_rows_and_tight_on_many() -> None:
    def report(rows: int) -> FairnessReport:
        frame = pd.DataFrame({"Gender": ["F"] * rows + ["M"] * rows, "Age": [25] * 2 * rows})
        labels = np.zeros(2 * rows, dtype=int)
        predicted = np.array(
            ([1] * 3 + [0] * 7) * (rows // 10) + ([1] * 4 + [0] * 6) * (rows // 10)
        )
        return fairness_report(frame, labels, predicted, SETTINGS, "x")

    few, many = report(100).attributes[0], report(10000).attributes[0]
    assert few.ratios["selection_rate"] == pytest.approx(0.75)
    assert many.ratios["selection_rate"] == pytest.approx(0.75)
    assert few.ratio_upper["selection_rate"] > 0.95  # 30 vs 40 of 100: could be equal
    assert 0.75 < many.ratio_upper["selection_rate"] < 0.78  # 3,000 vs 4,000: it is not
    metrics = report(100).metrics()
    assert "fairness_Gender_selection_rate_ratio_upper" in metrics
