"""The batch readers fuzzed (Hypothesis): any file gives a result or one error line, no debris.

Generated CSV and Parquet files mix the model's real columns with odd ones (empty or repeated
names), values of every type, huge cells, byte-order marks and wrong encodings. Scoring such a
file either succeeds or raises one ``DataError`` line, and a failure leaves the output folder
empty; reading it whole for drift or labels does the same.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_settings
from pipeline.errors import DataError
from pipeline.model.data import read_batch
from pipeline.model.predict import predict_file
from pipeline.model.schema import validate_batch

CONFIG = load_settings(REPO / "pyproject.toml", {}).model("attrition")
REAL = [c.name for c in CONFIG.columns]


class ConstantModel:
    """Scores every row 0.5: the readers and the validation are under test, not a model."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full((len(frame), 2), 0.5)


cells = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["Yes", "No", "Male", "Travel_Rarely", "", " ", "NaN", "1e309", "😀"]),
    # Huge cells: a short drawn text repeated to 5,000-20,000 characters. Drawing that many
    # characters one by one was 90% of this test's time (cProfile), and a reader sees no
    # difference between a varied huge cell and a repeated one.
    st.tuples(st.text(min_size=1, max_size=8), st.integers(5000, 20000)).map(
        lambda piece: (piece[0] * piece[1])[: piece[1]]
    ),
)
names = st.one_of(
    st.sampled_from(REAL), st.sampled_from(["", " ", "Unnamed: 0"]), st.text(max_size=8)
)


@st.composite
def tables(draw: Any) -> tuple[list[str], list[list[Any]]]:
    base = draw(st.sampled_from(["all-real", "some-real", "random"]))
    if base == "all-real":
        columns = list(REAL)
    elif base == "some-real":
        columns = draw(st.lists(st.sampled_from(REAL), min_size=1, max_size=len(REAL)))
    else:
        columns = []
    columns += draw(st.lists(names, max_size=4))  # duplicates and empty names included
    rows = draw(st.integers(0, 6))
    return columns, [[draw(cells) for _ in columns] for _ in range(rows)]


def _csv(columns: list[str], rows: list[list[Any]], encoding: str, bom: bool) -> bytes:
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=pd.Index(columns, dtype=object)).to_csv(buffer, index=False)
    text = buffer.getvalue()
    data = text.encode(encoding, errors="replace")
    return (b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"") + data


@settings(
    # The fast subset's budget (issue 28: 30 s in all): 300 examples took 8.3 s of it.
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    table=tables(),
    kind=st.sampled_from(["csv", "parquet"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252"]),
    bom=st.booleans(),
    truncate=st.sampled_from([None, 0.5]),
)
def test_any_file_scores_or_fails_in_one_line_leaving_nothing(
    table: tuple[list[str], list[list[Any]]],
    kind: str,
    encoding: str,
    bom: bool,
    truncate: float | None,
) -> None:
    columns, rows = table
    folder = Path(tempfile.mkdtemp())
    try:
        source = folder / f"batch.{kind}"
        if kind == "csv":
            data = _csv(columns, rows, encoding, bom)
        else:
            frame = pd.DataFrame(rows, columns=pd.Index(columns, dtype=object))
            frame.columns = [str(c) for c in frame.columns]
            buffer = io.BytesIO()
            try:
                frame.astype(str).to_parquet(buffer) if frame.columns.is_unique else None
            except Exception:  # noqa: BLE001 - pyarrow refuses some names: then raw bytes
                pass
            data = buffer.getvalue() or _csv(columns, rows, "utf-8", False)
        if truncate:
            data = data[: int(len(data) * truncate)]
        source.write_bytes(data)
        out = folder / "out"
        try:
            summary = predict_file(ConstantModel(), CONFIG, 1, "run", source, out, 3)
        except DataError as error:
            assert "\n" not in str(error) and str(error)
            assert not out.exists() or not any(out.iterdir()), "a failed step left files"
        else:
            assert summary.rows == len(rows) and (out / "predict.json").exists()
        try:
            validate_batch(read_batch(source), CONFIG, str(source))
        except DataError as error:
            assert "\n" not in str(error)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        ("Age,Age\n30,31\n".encode(), "column 'Age' appears more than once"),
        ("\ufeffAge\n30\n".encode("utf-16"), "not UTF-8"),
    ],
    ids=["empty", "duplicate-column", "utf-16"],
)
def test_known_bad_files_get_their_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "batch.csv"
    source.write_bytes(content)
    with pytest.raises(DataError, match=message):
        predict_file(ConstantModel(), CONFIG, 1, "run", source, tmp_path / "out", 3)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _json_value(spec_name: str) -> st.SearchStrategy[Any]:
    spec = next(c for c in CONFIG.columns if c.name == spec_name)
    common = st.one_of(st.none(), st.sampled_from(["", " ", "Astronaut", "12", "x"]))
    if spec.kind == "numeric":
        low, high = spec.min if spec.min is not None else -5, (
            spec.max if spec.max is not None else 5
        )
        return st.one_of(
            st.integers(int(low) - 3, int(high) + 3),
            st.floats(low - 3, high + 3, allow_nan=False),
            st.booleans(),
            common,
        )
    return st.one_of(st.sampled_from(list(spec.levels)), st.integers(0, 3), common)


_FEATURES = [c.name for c in CONFIG.columns if c.role != "target"]


@st.composite
def _requests(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = {
        name: (
            CONFIG.column(name).levels[0]
            if CONFIG.column(name).levels
            else (CONFIG.column(name).min if CONFIG.column(name).min is not None else 1)
        )
        for name in _FEATURES
    }
    records = []
    for _ in range(draw(st.integers(1, 4))):
        record = dict(base)
        for name in draw(st.lists(st.sampled_from(_FEATURES), max_size=4, unique=True)):
            if draw(st.booleans()):
                record.pop(name)
            else:
                record[name] = draw(_json_value(name))
        if draw(st.integers(0, 9)) == 0:
            record["note"] = "extra"
        records.append(record)
    return records


# 120 examples: the frame check costs 20 ms each, and 300 of them were 8 s of the fast subset.
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_requests())
def test_the_api_record_check_answers_as_the_batch_frame_check_does(
    records: list[dict[str, Any]],
) -> None:
    """validate_records (no frame) against validate_batch on the same records as a frame: the
    same error line, or the same checked values, rejected rows and reasons."""
    from pipeline.model.schema import validate_records

    def outcome(check: Any) -> Any:
        try:
            batch = check()
        except DataError as error:
            return str(error)
        return batch

    fast = outcome(lambda: validate_records(CONFIG, records))
    framed = outcome(
        lambda: validate_batch(
            pd.DataFrame(records, index=range(len(records))), CONFIG, "the request"
        )
    )
    if fast is None:
        return  # values that need pandas' coercion: the API uses the frame check for them
    if isinstance(framed, str) or isinstance(fast, str):
        assert fast == framed
        return
    assert fast.rejection_reasons == framed.rejection_reasons
    assert fast.rejected_rows == framed.rejected_rows
    assert fast.extra_columns == framed.extra_columns
    assert list(fast.frame.columns) == list(framed.frame.columns)
    for name in fast.frame.columns:
        ours, theirs = fast.frame[name], framed.frame[name]
        assert ours.isna().tolist() == theirs.isna().tolist(), name
        assert ours[ours.notna()].tolist() == theirs[theirs.notna()].tolist(), name
