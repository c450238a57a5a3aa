"""Late labels: a file of ids and targets that arrives after the batch it belongs to.

Validated against the model's schema and the ids the period scored, so that a wrong file is
one line naming the problem, its count and an example, before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config import ModelConfig
from pipeline.errors import ConfigError, DataError
from pipeline.model.schema import as_text

if TYPE_CHECKING:
    import pandas as pd

LABELS_FILE = "labels.parquet"  # a period's labels so far: id and target, one row per id
PERFORMANCE_FILE = "performance.json"  # the period's realized performance, from those labels


def id_column(config: ModelConfig) -> str:
    """The column that joins late labels to predictions (the one with role "id")."""
    ids = config.columns_with_role("id")
    if len(ids) != 1:
        raise ConfigError(
            f"model '{config.name}' needs exactly one column with role = \"id\" to join late "
            f"labels to its predictions (it has {len(ids)})"
        )
    return ids[0].name


def id_keys(ids: pd.Series) -> pd.Series:
    """Ids as text that match across files: validation stores numeric ids as floats
    (2026090.0) while a label file has them as integers (2026090)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(ids):
        values = ids.to_numpy(dtype=float)
        if np.all(np.isnan(values) | (values == np.round(values))):
            return ids.astype("Int64").astype(str)
    return ids.astype(str)


def validate_labels(
    frame: pd.DataFrame, config: ModelConfig, source: str, scored_ids: pd.Series
) -> pd.DataFrame:
    """``frame``'s id and target columns, checked; ``scored_ids`` are the period's ids."""
    key, target = id_column(config), config.target
    missing = [name for name in (key, target) if name not in frame.columns]
    if missing:
        raise DataError(
            f"{source} is missing column(s) {', '.join(repr(m) for m in missing)}: a label file "
            f"holds the id column '{key}' and the target '{target}'"
        )
    if len(frame) == 0:
        raise DataError(f"{source} has no rows")
    ids = frame[key]
    if ids.isna().any():
        raise DataError(f"{source} has {int(ids.isna().sum())} row(s) without an id ('{key}')")
    labels = as_text(frame[target])
    levels = config.column(target).levels
    unknown = labels.isna() | ~labels.isin(levels)
    if unknown.any():
        example = labels[unknown].iloc[0]
        raise DataError(
            f"{source} has {int(unknown.sum())} row(s) whose '{target}' is not one of "
            f"{', '.join(repr(v) for v in levels)} (e.g. {example!r} for id {ids[unknown].iloc[0]})"
        )
    keys = id_keys(ids)
    duplicated = keys.duplicated(keep=False)
    if duplicated.any():
        example = keys[duplicated].iloc[0]
        raise DataError(
            f"{source} has {int(keys[duplicated].nunique())} duplicate id(s) "
            f"(e.g. {example} appears {int((keys == example).sum())} times)"
        )
    known = keys.isin(set(id_keys(scored_ids)))
    if not known.all():
        raise DataError(
            f"{source} has {int((~known).sum())} id(s) that this period did not score "
            f"(e.g. {keys[~known].iloc[0]})"
        )
    import pandas as pd

    return pd.DataFrame({key: keys.to_numpy(), target: labels.to_numpy()})
