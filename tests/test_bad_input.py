"""Every kind of bad batch: one line naming the problem, a non-zero exit, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import files_in, run_cli

from pipeline.config import ModelConfig
from pipeline.model.synthetic import generate


@pytest.fixture
def reference(project: Path, config: ModelConfig) -> Path:
    path = project / "reference.csv"
    generate(config, 400, seed=1).to_csv(path, index=False)
    return path


@pytest.fixture
def good(config: ModelConfig) -> pd.DataFrame:
    return generate(config, 300, seed=2)


def _drift(project: Path, reference: Path, current: Path) -> tuple[int, str, list[str]]:
    out = project / "out"
    result = run_cli(
        "drift", "--reference", str(reference), "--current", str(current), "--out", str(out)
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.code, lines[-1] if lines else "", files_in(out)


def _write(project: Path, frame: pd.DataFrame, name: str = "current.csv") -> Path:
    path = project / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_missing_column(project: Path, reference: Path, good: pd.DataFrame) -> None:
    code, message, written = _drift(project, reference, _write(project, good.drop(columns="Age")))
    assert code != 0 and written == []
    assert message == (
        f"error: {project / 'current.csv'} is missing column(s) 'Age' required by model "
        "'attrition'"
    )


def test_renamed_column_is_named_with_its_new_name(
    project: Path, reference: Path, good: pd.DataFrame
) -> None:
    renamed = good.rename(columns={"MonthlyIncome": "Monthly_Income"})
    code, message, written = _drift(project, reference, _write(project, renamed))
    assert code != 0 and written == []
    assert "'MonthlyIncome' (found 'Monthly_Income')" in message


def test_wrong_dtype(project: Path, reference: Path, good: pd.DataFrame) -> None:
    bad = good.astype({"Age": "object"})
    bad.loc[4, "Age"] = "forty"
    code, message, written = _drift(project, reference, _write(project, bad))
    assert code != 0 and written == []
    assert "column 'Age'" in message and "should be numeric but holds 'forty' (row 5)" in message


def test_all_missing_column(project: Path, reference: Path, good: pd.DataFrame) -> None:
    bad = good.assign(JobLevel=float("nan"))
    code, message, written = _drift(project, reference, _write(project, bad))
    assert code != 0 and written == []
    assert "column 'JobLevel'" in message and "all values missing" in message


def test_zero_rows(project: Path, reference: Path, good: pd.DataFrame) -> None:
    code, message, written = _drift(project, reference, _write(project, good.head(0)))
    assert code != 0 and written == []
    assert message.endswith("has no rows")


def test_unseen_category_level(project: Path, reference: Path, good: pd.DataFrame) -> None:
    bad = good.copy()
    bad.loc[[1, 2, 3], "Department"] = "Legal"
    code, message, written = _drift(project, reference, _write(project, bad))
    assert code != 0 and written == []
    assert "column 'Department'" in message and "'Legal' (3 rows)" in message


def test_corrupt_parquet(project: Path, reference: Path) -> None:
    broken = project / "current.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    code, message, written = _drift(project, reference, broken)
    assert code != 0 and written == []
    assert "is not a readable Parquet file" in message


def test_corrupt_csv(project: Path, reference: Path) -> None:
    broken = project / "current.csv"
    broken.write_bytes(b"Age,Gender\n\xff\xfe\x00 binary \x00\n")
    code, message, written = _drift(project, reference, broken)
    assert code != 0 and written == []
    assert "current.csv" in message


def test_missing_file(project: Path, reference: Path) -> None:
    code, message, written = _drift(project, reference, project / "nope.csv")
    assert code != 0 and written == []
    assert message.endswith("nope.csv does not exist")


@pytest.mark.xdist_group("evidently")  # with tests/test_drift.py: one import of Evidently
def test_bom_csv_parquet_and_extra_columns_are_read_and_the_extras_reported(
    project: Path, reference: Path, good: pd.DataFrame
) -> None:
    """A reference saved by Excel (UTF-8 with a byte-order mark) and a Parquet month with a
    column the model does not know: both are read, and the extra column is reported, not fatal.
    One drift run covers all three: each run renders Evidently's page (2 s)."""
    bom = project / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + reference.read_bytes())
    current = _write(project, good.assign(Badge="x"), "current.parquet")
    code, message, written = _drift(project, bom, current)
    assert code == 0, message
    assert "drift.json" in written
    drift = json.loads((project / "out" / "drift.json").read_text())
    assert drift["data_quality"]["extra_columns"] == ["Badge"]
    assert drift["data_quality"]["reference_rows"] == 400
