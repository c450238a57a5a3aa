"""Reading and writing batches: CSV (with or without a UTF-8 BOM) and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.results import StagedOutputs

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")


def read_batch(path: Path) -> pd.DataFrame:
    """Load a batch file, turning every way it can be unreadable into one line naming the file."""
    import pandas as pd

    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a batch file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv or .parquet)")
    try:
        if suffix == ".csv":
            # utf-8-sig strips a byte-order mark when there is one and reads plain UTF-8 otherwise.
            return pd.read_csv(path, encoding="utf-8-sig")
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise DataError(f"{path} is not valid CSV: {first}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None
    except (OSError, ValueError) as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path} is not a readable {kind} file: {first}") from None


def write_frame(outputs: StagedOutputs, name: str, frame: pd.DataFrame) -> Path:
    """Stage a frame under ``name``; its suffix picks the format."""
    temp = outputs.path(name)
    if name.endswith(".csv"):
        frame.to_csv(temp, index=False)
    else:
        frame.to_parquet(temp, index=False)
    return outputs.directory / name
