"""One conformance test for every engine: pandas here, Spark in local mode.

Each engine scores the same batch (a folder of Parquet parts, with rejected rows and an extra
column) with the registry's champion and is held to the model itself: the same scores (1e-9),
the same rejected rows and reasons, the same predict.json. Bad batches fail in one line that
names the column, and leave nothing behind. The drift sample is uniform, in batch order, and
carries the whole batch's counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import files_in, use_trained_store

from pipeline.config import ENGINES, ModelConfig, Settings, load_settings
from pipeline.edges.registry import CHAMPION, Registry
from pipeline.errors import DataError
from pipeline.model.engine import Engine
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.results import read_json
from pipeline.steps.predict import engine_for

pytest.importorskip("pyspark", reason="the spark engine's tests need the 'spark' extra")
pytestmark = pytest.mark.slow  # a trained registry, and Spark's start-up on the first test
# The Spark cases share one pytest-xdist worker (scripts/test.sh: --dist loadgroup), which starts
# the JVM and Spark's Python workers once, not once on each worker.
EVERY_ENGINE = [
    pytest.param(name, marks=pytest.mark.xdist_group("spark")) if name == "spark" else name
    for name in ENGINES
]


@pytest.fixture
def trained(
    project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, ModelConfig, Registry]:
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "engines.db")
    settings = load_settings()
    config = settings.model("attrition")
    return settings, config, Registry(settings, config)


def _as_parts(frame: pd.DataFrame, folder: Path, parts: int = 3) -> Path:
    """``frame`` as a dataset folder of ``parts`` Parquet files, as Spark jobs leave them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    table = pa.Table.from_pandas(frame, preserve_index=False)  # one schema for every part
    for number, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(table.slice(part[0], len(part)), folder / f"part-{number:05d}.parquet")
    (folder / "_SUCCESS").write_text("")
    return folder


def _messy_batch(config: ModelConfig) -> pd.DataFrame:
    batch = generate(config, 900, seed=11)
    batch.loc[[3, 400], "MonthlyIncome"] = np.nan
    batch.loc[[10, 777], "Age"] = [150, 3]
    batch["Age"] = batch["Age"].astype("float64")
    batch.loc[30, "Age"] = 47.5  # an int column: a fraction is not a value the schema allows
    batch.loc[[20, 21, 22], "JobRole"] = None
    batch.loc[500:, "Attrition"] = None  # labels for the first 500 rows only
    batch["comment"] = "an extra column"
    return batch


@pytest.mark.parametrize("name", EVERY_ENGINE)
def test_every_engine_scores_like_the_model_and_counts_rejected_rows_alike(
    project: Path, trained: tuple[Settings, ModelConfig, Registry], name: str
) -> None:
    settings, config, registry = trained
    engine: Engine = engine_for(settings, name)
    batch = _messy_batch(config)
    # Brackets in the names: Spark reads "[1]" in a path as a glob unless it is escaped.
    source = _as_parts(batch, project / "batch[1]")
    out = project / "out[1]"
    champion = registry.require_alias(CHAMPION)
    model = registry.load_model(champion)

    summary = engine.predict(registry.scoring_model(champion), config, source, out)

    bad = [3, 400, 10, 777, 20, 21, 22, 30]
    good = batch.drop(index=bad)
    expected = model.predict_proba(validate_batch(good, config, "x").frame)[:, 1]
    predictions = pd.read_parquet(out / "predictions.parquet")
    predictions = predictions.set_index(predictions["EmployeeNumber"].astype("int64"))
    scored = predictions.loc[good["EmployeeNumber"].to_numpy(), "score"].to_numpy()
    assert np.abs(scored - expected).max() <= 1e-9
    assert predictions.loc[batch.loc[bad, "EmployeeNumber"].to_numpy(), "score"].isna().all()
    assert len(predictions) == 900
    assert list(predictions.columns) == ["EmployeeNumber", "score", "predicted", "Attrition"]

    written = read_json(out / "predict.json")
    assert written["engine"] == name
    assert written["rows"] == 900 and written["scored_rows"] == 892
    assert written["rejected_rows"] == 8
    assert written["rejection_reasons"] == {
        "missing JobRole": 3,
        "missing MonthlyIncome": 2,
        "Age outside [14, 100]": 2,
        "Age not a whole number": 1,
    }
    assert written["labelled_rows"] == 500
    assert written["extra_columns"] == ["comment"]
    assert written["missing_rates"] == {"JobRole": round(3 / 900, 4), "MonthlyIncome": 0.0022}
    assert written["positive_rate"] == pytest.approx(float((expected >= 0.5).mean()))
    assert written["mean_score"] == pytest.approx(float(expected.mean()), abs=1e-12)
    assert summary.model_version == champion.version


BAD_BATCHES = {
    "a missing column": (
        lambda b: b.drop(columns=["Age"]),
        "is missing column(s) 'Age' required by model 'attrition'",
    ),
    "text in a numeric column": (
        lambda b: b.assign(Age=b["Age"].astype(object).where(b.index != 7, "old")),
        "column 'Age' in {source} should be numeric but holds 'old'",
    ),
    "a level never seen in training": (
        lambda b: b.assign(JobRole=b["JobRole"].where(b.index != 5, "Astronaut")),
        "column 'JobRole' in {source} has level(s) never seen in training: 'Astronaut'",
    ),
    "an empty feature": (
        lambda b: b.assign(MonthlyIncome=np.nan),
        "column 'MonthlyIncome' in {source} is empty (all values missing)",
    ),
    "a label that is not a level": (
        lambda b: b.assign(Attrition=b["Attrition"].where(b.index != 2, "Maybe")),
        "column 'Attrition' in {source} has label(s) 'Maybe'; expected 'No', 'Yes'",
    ),
}


@pytest.mark.parametrize("name", EVERY_ENGINE)
@pytest.mark.parametrize("case", BAD_BATCHES)
def test_every_engine_refuses_a_bad_batch_in_one_line_and_writes_nothing(
    project: Path, trained: tuple[Settings, ModelConfig, Registry], name: str, case: str
) -> None:
    settings, config, registry = trained
    spoil, message = BAD_BATCHES[case]
    source = project / "bad.csv"  # CSV: a column may hold numbers and text
    spoil(generate(config, 60, seed=2)).to_csv(source, index=False)
    champion = registry.require_alias(CHAMPION)

    with pytest.raises(DataError) as raised:
        engine_for(settings, name).predict(
            registry.scoring_model(champion), config, source, project / "out"
        )

    assert message.format(source=source) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert files_in(project / "out") == []


@pytest.mark.parametrize("name", EVERY_ENGINE)
def test_every_engine_samples_uniformly_in_batch_order_with_the_batch_counts(
    project: Path, trained: tuple[Settings, ModelConfig, Registry], name: str
) -> None:
    settings, config, _ = trained
    batch = _messy_batch(config)
    batch = pd.concat([batch, generate(config, 2100, seed=12)], ignore_index=True)
    batch["EmployeeNumber"] = np.arange(len(batch))
    source = _as_parts(batch, project / "batch", parts=4)
    engine = engine_for(settings, name)

    sample = engine.sample(config, source, rows=600, seed=1)

    assert len(sample.frame) == 600
    ids = sample.frame["EmployeeNumber"].to_numpy()
    assert (np.diff(ids) > 0).all(), "the sample keeps the batch's order"
    assert sample.rows == 3000 and sample.rejected_rows == 8
    assert sample.labelled_rows == 500 + 2100
    assert sample.has_labels and sample.extra_columns == ["comment"]
    assert sample.missing_rates["MonthlyIncome"] == pytest.approx(2 / 3000)
    # Uniform over the batch: rows from each part, a mean close to the batch's.
    assert np.histogram(ids, bins=4, range=(0, 3000))[0].min() > 100
    mean, spread = batch["Age"].mean(), batch["Age"].std() / np.sqrt(600)
    assert abs(sample.frame["Age"].mean() - mean) < 4 * spread
    # Validated like any batch: the frame is what drift's tests read.
    assert sample.frame["MonthlyIncome"].dtype == "float64"
    again = engine.sample(config, source, rows=600, seed=1)
    other = engine.sample(config, source, rows=600, seed=2)
    assert again.frame["EmployeeNumber"].tolist() == ids.tolist()
    assert other.frame["EmployeeNumber"].tolist() != ids.tolist()
    whole = engine.sample(config, source, rows=5000, seed=1)
    assert whole.frame["EmployeeNumber"].tolist() == list(range(3000))


@pytest.mark.parametrize("name", EVERY_ENGINE)
def test_every_engine_refuses_a_corrupt_part_in_one_line_naming_the_batch(
    project: Path, trained: tuple[Settings, ModelConfig, Registry], name: str
) -> None:
    settings, config, registry = trained
    source = _as_parts(generate(config, 90, seed=4), project / "batch", parts=2)
    part = source / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[: len(part.read_bytes()) // 2])  # a truncated upload
    champion = registry.require_alias(CHAMPION)

    with pytest.raises(DataError) as raised:
        engine_for(settings, name).predict(
            registry.scoring_model(champion), config, source, project / "out"
        )

    assert str(source) in str(raised.value) and "\n" not in str(raised.value)
    assert files_in(project / "out") == []
