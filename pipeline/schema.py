"""The schema every batch is checked against before use, built from the model's column specs.

Batch-level problems (missing column, wrong dtype, all-missing column, no rows, unseen category
levels) are fatal: a ``DataError`` naming the column. Row-level problems (a missing value, a
number outside its plausible range) reject only those rows, which are counted with reasons.
Columns the schema does not know are reported and ignored.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig
from pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ValidatedBatch:
    frame: pd.DataFrame
    has_labels: bool
    extra_columns: list[str] = field(default_factory=list)
    rejected_rows: int = 0
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    accepted: pd.Series | None = None

    @property
    def labelled_rows(self) -> int:
        return 0 if not self.has_labels else int(self.frame["__label__"].notna().sum())


def validate_batch(
    frame: pd.DataFrame,
    config: ModelConfig,
    source: str,
    row_offset: int = 0,
    whole_batch: bool = True,
) -> ValidatedBatch:
    """Check and coerce ``frame``; ``source`` names the file in messages.

    For a chunk of a larger batch pass ``row_offset`` (rows before it, for messages) and
    ``whole_batch=False``: the no-rows and all-missing checks then belong to the caller.
    """
    import pandas as pd

    if whole_batch and len(frame) == 0:
        raise DataError(f"{source} has no rows")
    known = {c.name for c in config.columns}
    extra = [str(c) for c in frame.columns if c not in known]
    missing = [name for name in config.features if name not in frame.columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, extra, n=1, cutoff=0.75)
            hints.append(f"'{name}'" + (f" (found '{close[0]}')" if close else ""))
        raise DataError(
            f"{source} is missing column(s) {', '.join(hints)} required by model '{config.name}'"
        )

    checked = pd.DataFrame(index=frame.index)
    for spec in config.columns:
        if spec.name not in frame.columns or spec.role == "target":
            continue
        column = frame[spec.name]
        if whole_batch and spec.role == "feature" and column.isna().all():
            raise DataError(f"column '{spec.name}' in {source} is empty (all values missing)")
        if spec.kind == "numeric":
            checked[spec.name] = _numeric(column, spec.name, source, row_offset)
        else:
            checked[spec.name] = _categorical(column, spec.name, spec.levels, source)

    has_labels = False
    if config.target in frame.columns:
        target = as_text(frame[config.target])
        levels = config.column(config.target).levels
        bad = target.notna() & ~target.isin(levels)
        if bad.any():
            raise DataError(
                f"column '{config.target}' in {source} has label(s) {_sample(target[bad])}; "
                f"expected {', '.join(repr(v) for v in levels)}"
            )
        checked[config.target] = target
        label = (target == config.positive_class).astype("float64")
        checked["__label__"] = label.where(target.notna())
        has_labels = bool(target.notna().any())

    reasons = _row_problems(checked, config)
    accepted = reasons == ""
    counts = reasons[~accepted].value_counts()
    return ValidatedBatch(
        frame=checked,
        has_labels=bool(has_labels),
        extra_columns=extra,
        rejected_rows=int((~accepted).sum()),
        rejection_reasons={str(k): int(v) for k, v in counts.items()},
        accepted=accepted,
    )


def _numeric(column: pd.Series, name: str, source: str, row_offset: int) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        raise DataError(f"column '{name}' in {source} should be numeric but holds booleans")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    coerced = pd.to_numeric(column, errors="coerce")
    bad = coerced.isna() & column.notna()
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0]) + 1 + row_offset
        value = column[bad].iloc[0]
        raise DataError(
            f"column '{name}' in {source} should be numeric but holds {value!r} (row {position})"
        )
    return coerced.astype("float64")


def _categorical(column: pd.Series, name: str, levels: tuple[str, ...], source: str) -> pd.Series:
    text = as_text(column)
    unseen = text.notna() & ~text.isin(levels)
    if unseen.any():
        raise DataError(
            f"column '{name}' in {source} has level(s) never seen in training: "
            f"{_sample(text[unseen])} ({int(unseen.sum())} rows)"
        )
    return text


def as_text(column: pd.Series) -> pd.Series:
    """Levels as strings, missing values kept missing; no per-value work when already text."""
    import pandas as pd

    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return column.astype("object")
    return column.map(lambda v: v if v is None or v != v else _level_text(v))


def _level_text(value: object) -> str:
    # Parquet or CSV may hand a numeric-looking level back as 1.0; the schema spells it "1".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sample(values: pd.Series, limit: int = 3) -> str:
    distinct = list(dict.fromkeys(values.tolist()))
    shown = ", ".join(repr(v) for v in distinct[:limit])
    return shown + (f" and {len(distinct) - limit} more" if len(distinct) > limit else "")


def _row_problems(frame: pd.DataFrame, config: ModelConfig) -> pd.Series:
    """A reason per row ("" when the row is fine): the first problem found, by column order."""
    import pandas as pd

    reasons = pd.Series("", index=frame.index, dtype="object")
    for spec in config.columns_with_role("feature"):
        column = frame[spec.name]
        unset = reasons == ""
        reasons[unset & column.isna()] = f"missing {spec.name}"
        if spec.kind == "numeric" and (spec.min is not None or spec.max is not None):
            low = -float("inf") if spec.min is None else spec.min
            high = float("inf") if spec.max is None else spec.max
            outside = column.notna() & ((column < low) | (column > high))
            reasons[(reasons == "") & outside] = f"{spec.name} outside [{spec.min}, {spec.max}]"
    return reasons
