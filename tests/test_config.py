from pathlib import Path

import pytest

from pipeline.config import load_settings, parallel_jobs
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_attrition_schema_matches_the_ibm_table_shape() -> None:
    config = load_settings(REPO / "pyproject.toml", environ={}).model("attrition")
    assert len(config.columns) == 35
    assert config.target == "Attrition" and config.positive_class == "Yes"
    assert "EmployeeNumber" not in config.features and "Over18" not in config.features
    assert len(config.features) == 30


def test_environment_overrides_are_typed() -> None:
    env = {
        "PIPELINE_ATTRITION_FEATURE_ALPHA": "0.01",
        "PIPELINE_ATTRITION_BATCH_ROWS": "10",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
    }
    settings = load_settings(REPO / "pyproject.toml", environ=env)
    config = settings.model("attrition")
    assert config.thresholds.feature_alpha == 0.01
    assert config.batch_rows == 10
    assert settings.tracking_uri == "http://127.0.0.1:5000"


def test_relative_sqlite_uri_is_anchored_at_the_project() -> None:
    settings = load_settings(REPO / "pyproject.toml", environ={})
    assert settings.tracking_uri == f"sqlite:///{REPO / 'mlruns.db'}"


def test_bad_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PIPELINE_ATTRITION_MIN_F1='high'"):
        load_settings(REPO / "pyproject.toml", environ={"PIPELINE_ATTRITION_MIN_F1": "high"})


def test_unknown_model_lists_the_known_ones() -> None:
    settings = load_settings(REPO / "pyproject.toml", environ={})
    with pytest.raises(ConfigError, match="unknown model 'churn'.*attrition"):
        settings.model("churn")


def test_pipeline_jobs_is_every_core_unless_said_and_a_bad_value_is_one_line() -> None:
    assert parallel_jobs({}) == -1
    assert parallel_jobs({"PIPELINE_JOBS": "2"}) == 2
    assert parallel_jobs({}, default=1) == 1  # the backtest's own default
    assert parallel_jobs({"PIPELINE_JOBS": "-1"}, default=1) == -1  # what the user says wins
    for bad in ("two", "0", "-3"):
        with pytest.raises(ConfigError, match=f"PIPELINE_JOBS='{bad}'"):
            parallel_jobs({"PIPELINE_JOBS": bad})
