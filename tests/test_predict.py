"""Chunked prediction: same scores as the model, rejected rows counted, bad chunks leave nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import files_in

from pipeline.config import ModelConfig, load_settings
from pipeline.errors import DataError
from pipeline.model.predict import predict_file
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.model.train import build_model
from pipeline.monitoring.performance import labelled_rows
from pipeline.results import read_json


@pytest.fixture
def model(config: ModelConfig) -> Any:
    from sklearn.linear_model import LogisticRegression

    frame = validate_batch(generate(config, 600, seed=3), config, "training").frame
    features, labels = labelled_rows(frame, config)
    return build_model(config, LogisticRegression(max_iter=500)).fit(features, labels)


def test_chunked_scores_equal_the_model_and_rejected_rows_are_counted(
    project: Path, config: ModelConfig, model: Any
) -> None:
    batch = generate(config, 250, seed=4)
    batch.loc[[5, 130], "MonthlyIncome"] = np.nan
    batch.loc[200, "Age"] = 150
    source = project / "batch.parquet"
    batch.to_parquet(source, index=False)

    summary = predict_file(model, config, 3, "run-x", source, project / "out", chunk_rows=60)

    predictions = pd.read_parquet(project / "out" / "predictions.parquet")
    assert len(predictions) == 250 and summary.rows == 250
    rejected = predictions["score"].isna()
    assert sorted(predictions.index[rejected]) == [5, 130, 200]
    expected = model.predict_proba(
        validate_batch(batch.drop(index=[5, 130, 200]), config, "x").frame[config.features]
    )[:, 1]
    np.testing.assert_allclose(predictions.loc[~rejected, "score"].to_numpy(), expected)
    assert predictions["EmployeeNumber"].tolist() == batch["EmployeeNumber"].tolist()

    written = read_json(project / "out" / "predict.json")
    assert written["rejected_rows"] == 3 and written["scored_rows"] == 247
    assert written["rejection_reasons"] == {"missing MonthlyIncome": 2, "Age outside [14, 100]": 1}
    assert written["model_version"] == 3 and written["chunk_rows"] == 60
    assert written["positive_rate"] == pytest.approx(float((expected >= 0.5).mean()))


def test_a_bad_value_in_a_later_chunk_names_its_row_and_writes_nothing(
    project: Path, config: ModelConfig, model: Any
) -> None:
    batch = generate(config, 250, seed=5)
    batch["DailyRate"] = batch["DailyRate"].astype(object)
    batch.loc[187, "DailyRate"] = "twelve"
    source = project / "batch.csv"
    batch.to_csv(source, index=False)

    with pytest.raises(DataError) as error:
        predict_file(model, config, 1, "run-x", source, project / "out", chunk_rows=50)

    assert str(error.value) == (
        f"column 'DailyRate' in {source} should be numeric but holds 'twelve' (row 188)"
    )
    assert files_in(project / "out") == []


def test_a_uri_keeps_its_scheme_and_a_remote_session_refuses_a_local_batch(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spark Connect reads where the cluster reads: a file on the runner is refused in one
    line, before any session starts; a URI that went through Path gets its slashes back."""
    from pipeline.edges.spark import read_dataset
    from pipeline.model.data import dataset_location, is_uri
    from pipeline.steps.predict import project_relative

    assert dataset_location(Path("s3://bucket/m/2026-11")) == "s3://bucket/m/2026-11"
    assert dataset_location(Path("dbfs:/mnt/batches/x.parquet")) == "dbfs:/mnt/batches/x.parquet"
    assert not is_uri(project / "batch.csv") and is_uri(Path("gs://b/k"))
    assert project_relative(Path("abfss://c@a.dfs.core.windows.net/m"), project).startswith(
        "abfss://c@a"
    )
    batch = project / "batch.parquet"
    batch.write_bytes(b"")
    monkeypatch.setenv("SPARK_REMOTE", "sc://cluster.invalid:15002")
    assert load_settings().spark_remote == "sc://cluster.invalid:15002"
    with pytest.raises(DataError, match="Spark Connect cluster cannot read"):
        read_dataset(None, batch, remote=True)


def test_a_structure_where_a_level_belongs_is_one_line_naming_column_and_row(
    config: ModelConfig,
) -> None:
    """A JSON object in a categorical column (the API's fuzzer sent one) is bad input, not a
    crash: scoring it failed with "unhashable type: 'dict'" and the API answered 503."""
    frame = generate(config, 3, seed=5).drop(columns=[config.target])
    frame["Gender"] = frame["Gender"].astype(object)
    frame.at[1, "Gender"] = {"a": 1}
    with pytest.raises(
        DataError,
        match=r"column 'Gender' in the request should hold one of its "
        r"levels but holds \{'a': 1\} \(row 2\)",
    ):
        validate_batch(frame, config, "the request")
