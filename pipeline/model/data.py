"""Reading and writing batches: CSV (with or without a UTF-8 BOM) and Parquet, whole or chunked.

A Parquet batch is a file or a folder of part files (a dataset, as Spark and the spark engine's
predictions write it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import DataError, first_line

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.results import StagedOutputs

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
_URI = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):/+")


def dataset_location(source: Path | str) -> str:
    """``source`` as text: a local path, or a URI (``s3://``, ``dbfs:/``) as it was given.

    A URI that went through ``Path`` lost a slash (``s3:/bucket``): it is put back.
    """
    text = str(source)
    found = _URI.match(text)
    if found and len(found.group(1)) > 1:  # "C:/" is a Windows drive, not a scheme
        scheme, rest = found.group(1), text[found.end() :]
        return f"{scheme}:/{rest}" if scheme == "dbfs" else f"{scheme}://{rest}"
    return text


def is_uri(source: Path | str) -> bool:
    """A dataset a Spark cluster reads (``s3://…``), not a file on this machine."""
    return dataset_location(source) != str(source)


def _check_path(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        if not parquet_parts(path):
            raise DataError(f"{path} is a folder without Parquet parts, not a batch")
        return ".parquet"
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv or .parquet)")
    return suffix


def file_digest(path: Path | str) -> str:
    """SHA-256 of a batch's bytes (a folder's Parquet parts in order); "" for a URI."""
    if is_uri(path):
        return ""
    path = Path(path)
    digest = hashlib.sha256()
    for part in parquet_parts(path) if path.is_dir() else [path]:
        with part.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def parquet_parts(folder: Path) -> list[Path]:
    """The Parquet part files of a dataset folder (Spark's _SUCCESS and .crc files are not)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".pq") and not p.name.startswith((".", "_"))
    )


@contextmanager
def _readable(path: Path, suffix: str) -> Iterator[None]:
    """Turn every way a file can be unreadable into one line naming the file."""
    import pandas as pd

    kind = "CSV" if suffix == ".csv" else "Parquet"
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not valid CSV: {first_line(exc)}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable {kind} file: {first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own error types
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path} is not a readable {kind} file: {first_line(exc)}") from None
        raise


PARQUET_ROW_GROUP_ROWS = 100_000


def check_csv_header(path: Path) -> None:
    """A column named twice is an error: pandas would silently rename the second ("Age.1")."""
    import csv
    from collections import Counter

    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle), [])
        except csv.Error as exc:
            raise DataError(f"{path} is not valid CSV: {first_line(exc)}") from None
    repeated = [name for name, count in Counter(header).items() if count > 1 and name.strip()]
    if repeated:
        raise DataError(f"{path}: column '{repeated[0]}' appears more than once in the header")


def read_batch(path: Path) -> pd.DataFrame:
    """Load a whole batch file."""
    import pandas as pd

    suffix = _check_path(path)
    with _readable(path, suffix):
        if suffix == ".csv":
            check_csv_header(path)
            # utf-8-sig strips a byte-order mark when there is one and reads plain UTF-8 otherwise.
            return pd.read_csv(path, encoding="utf-8-sig")
        return pd.read_parquet(path)


def iter_batch(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The batch as frames of at most ``chunk_rows`` rows, so memory does not grow with the file."""
    import pandas as pd

    suffix = _check_path(path)
    with _readable(path, suffix):
        if suffix == ".csv":
            check_csv_header(path)
            reader = pd.read_csv(path, encoding="utf-8-sig", chunksize=chunk_rows)
            with reader:
                yield from reader
            return
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        # A file one row group at a time; a folder of parts file by file, in name order.
        parts = parquet_parts(path) if path.is_dir() else [path]
        empty = True
        for part in parts:
            parquet = pq.ParquetFile(part)
            for record_batch in parquet.iter_batches(batch_size=chunk_rows):
                if record_batch.num_rows == 0:
                    continue
                empty = False
                yield record_batch.to_pandas()
        if empty:
            yield ds.dataset(path, format="parquet").schema.empty_table().to_pandas()


def count_rows(path: Path) -> int | None:
    """Rows in a batch file, cheaply (Parquet metadata, or counting CSV lines); None if unknown."""
    suffix = _check_path(path)
    try:
        if suffix == ".csv":
            lines = 0
            last = b"\n"
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    lines += block.count(b"\n")
                    last = block[-1:]
            return max(lines - 1 + (0 if last == b"\n" else 1), 0)
        import pyarrow.dataset as ds

        return int(ds.dataset(path, format="parquet").count_rows())
    except Exception:  # noqa: BLE001 - a count is only for the progress bar
        return None


def write_frame(outputs: StagedOutputs, name: str, frame: pd.DataFrame) -> Path:
    """Stage a frame under ``name``; its suffix picks the format."""
    temp = outputs.path(name)
    if name.endswith(".csv"):
        frame.to_csv(temp, index=False)
    else:
        # Readers decode a whole row group at once: bounded groups keep chunked reads bounded.
        frame.to_parquet(temp, index=False, row_group_size=PARQUET_ROW_GROUP_ROWS)
    return outputs.directory / name
