"""The schema every batch is checked against before use, built from the model's column specs.

Batch-level problems (missing column, wrong dtype, all-missing column, no rows, unseen category
levels) are fatal: a ``DataError`` naming the column. Row-level problems (a missing value, a
number outside its plausible range) reject only those rows, which are counted with reasons.
Columns the schema does not know are reported and ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig
from pipeline.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Population:
    """Counts over a whole batch whose ``frame`` is a sample of it (drift on large batches)."""

    rows: int
    labelled_rows: int
    missing_rates: dict[str, float]


@dataclass
class ValidatedBatch:
    # The checked rows; None until first asked for when the batch was checked as ``arrays``
    # (the API scores from those, and building a frame was a tenth of its time per record).
    checked: pd.DataFrame | None
    has_labels: bool
    extra_columns: list[str] = field(default_factory=list)
    rejected_rows: int = 0
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    accepted: pd.Series | None = None
    # Set when ``frame`` holds a sample: the counts then describe the batch, not the sample.
    population: Population | None = None
    # The checked columns as arrays, when they were checked as arrays (``validate_records``):
    # the API scores from them without taking the frame apart again.
    arrays: dict[str, np.ndarray] | None = None

    @property
    def frame(self) -> pd.DataFrame:
        if self.checked is None:
            import pandas as pd

            assert self.arrays is not None, "a batch holds its rows as a frame or as arrays"
            rows = len(next(iter(self.arrays.values()))) if self.arrays else 0
            self.checked = pd.DataFrame(self.arrays, index=pd.RangeIndex(rows), copy=False)
        return self.checked

    @property
    def rows(self) -> int:
        return self.population.rows if self.population else len(self.frame)

    @property
    def labelled_rows(self) -> int:
        if self.population is not None:
            return self.population.labelled_rows
        return 0 if not self.has_labels else int(self.frame["__label__"].notna().sum())

    @property
    def missing_rates(self) -> dict[str, float]:
        """Each column's share of missing values (all columns, zeros included)."""
        if self.population is not None:
            return dict(self.population.missing_rates)
        if len(self.frame) == 0:
            return {}
        rates = self.frame.isna().mean()
        return {str(name): float(rate) for name, rate in rates.items()}


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
    import numpy as np
    import pandas as pd

    if whole_batch and len(frame) == 0:
        raise DataError(f"{source} has no rows")
    known = {c.name for c in config.columns}
    extra = [str(c) for c in frame.columns if c not in known]
    require_features(config, [str(c) for c in frame.columns], source)

    columns: dict[str, pd.Series] = {}
    missing_masks: dict[str, np.ndarray] = {}
    for spec in config.columns:
        if spec.name not in frame.columns or spec.role == "target":
            continue
        column = frame[spec.name]
        if spec.kind == "numeric":
            values = _numeric(column, spec.name, source, row_offset)
            missing_mask = values.isna().to_numpy()
        elif spec.kind == "text":
            values = as_text(column)
            # Blank text says nothing: the row is rejected as missing it.
            missing_mask = (values.isna() | (values.str.strip() == "")).to_numpy(dtype=bool)
        else:
            values, missing_mask = _categorical(column, spec.name, spec.levels, source)
        if whole_batch and spec.role == "feature" and missing_mask.all():
            raise empty_column(spec.name, source)
        columns[spec.name] = values
        missing_masks[spec.name] = missing_mask

    has_labels = False
    if config.target in frame.columns:
        target = as_text(frame[config.target])
        levels = config.column(config.target).levels
        bad = target.notna() & ~target.isin(levels)
        if bad.any():
            raise unknown_labels(config, source, _distinct(target[bad]))
        columns[config.target] = target
        label = (target == config.positive_class).astype("float64")
        columns["__label__"] = label.where(target.notna())
        has_labels = bool(target.notna().any())

    # Side by side without consolidating into 2-D blocks: building the frame column by column
    # or from a dict copies every value once more, which was a third of validation's time.
    checked = pd.concat(columns, axis=1, copy=False)
    codes, problems = _row_problems(
        config, missing_masks, _frame_numbers(checked), _frame_lengths(checked)
    )
    accepted = codes == 0
    counts = np.bincount(codes, minlength=len(problems))
    return ValidatedBatch(
        checked=checked,
        has_labels=bool(has_labels),
        extra_columns=extra,
        rejected_rows=int((~accepted).sum()),
        rejection_reasons={problems[i]: int(counts[i]) for i in range(1, len(problems))},
        accepted=pd.Series(accepted, index=checked.index),
    )


def unseen_levels(name: str, source: str, distinct: list[object], rows: int) -> DataError:
    """Levels the model never saw: the batch stops (every engine words it so)."""
    return DataError(
        f"column '{name}' in {source} has level(s) never seen in training: "
        f"{sample_text(distinct)} ({rows} rows)"
    )


def unknown_labels(config: ModelConfig, source: str, distinct: list[object]) -> DataError:
    levels = config.column(config.target).levels
    return DataError(
        f"column '{config.target}' in {source} has label(s) {sample_text(distinct)}; "
        f"expected {', '.join(repr(v) for v in levels)}"
    )


def not_numeric(name: str, source: str, value: object, where: str) -> DataError:
    """``where``: "row 8" (pandas reads rows in order) or "3 rows" (Spark counts them)."""
    return DataError(f"column '{name}' in {source} should be numeric but holds {value!r} ({where})")


def not_a_level(name: str, source: str, column: pd.Series) -> DataError:
    """The first value of ``column`` that is a structure (dict, list), not one level."""
    for row, value in enumerate(column, start=1):
        if isinstance(value, (dict, list, set, tuple)):
            return DataError(
                f"column '{name}' in {source} should hold one of its levels but holds "
                f"{value!r} (row {row})"
            )
    return DataError(f"column '{name}' in {source} holds values that are not levels")


def booleans_not_numeric(name: str, source: str) -> DataError:
    return DataError(f"column '{name}' in {source} should be numeric but holds booleans")


def empty_column(name: str, source: str) -> DataError:
    return DataError(f"column '{name}' in {source} is empty (all values missing)")


def require_features(config: ModelConfig, columns: list[str], source: str) -> None:
    """A ``DataError`` naming every feature the batch lacks, with a near miss when there is one."""
    known = {c.name for c in config.columns}
    extra = [c for c in columns if c not in known]
    missing = [name for name in config.features if name not in columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, extra, n=1, cutoff=0.75)
            hints.append(f"'{name}'" + (f" (found '{close[0]}')" if close else ""))
        raise DataError(
            f"{source} is missing column(s) {', '.join(hints)} required by model '{config.name}'"
        )


def _numeric(column: pd.Series, name: str, source: str, row_offset: int) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        raise booleans_not_numeric(name, source)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    coerced = pd.to_numeric(column, errors="coerce")
    bad = coerced.isna() & column.notna()
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0]) + 1 + row_offset
        value = column[bad].iloc[0]
        raise not_numeric(name, source, value, f"row {position}")
    return coerced.astype("float64")


def _categorical(
    column: pd.Series, name: str, levels: tuple[str, ...], source: str
) -> tuple[pd.Series, np.ndarray]:
    """The column as text and its missing-value mask; unseen levels are fatal."""
    import pandas as pd

    # Matching against the levels by hash finds missing and unseen values together (code -1);
    # only those few rows then need the slow object-array missing-value check. Text columns
    # usually match as they are; only others (1.0 for level "1") are converted first.
    text = column.astype("object") if column.dtype != object else column
    try:
        unknown = pd.Categorical(text, categories=list(levels)).codes < 0
    except TypeError:  # a JSON object or array where a level belongs: unhashable
        raise not_a_level(name, source, column) from None
    if unknown.any() and text[unknown].notna().any():
        text = as_text(column)
        unknown = pd.Categorical(text, categories=list(levels)).codes < 0
    missing = unknown.copy()
    if unknown.any():
        missing[unknown] = text[unknown].isna().to_numpy()
        unseen = unknown & ~missing
        if unseen.any():
            raise unseen_levels(name, source, _distinct(text[unseen]), int(unseen.sum()))
    return text, missing


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


def _distinct(values: pd.Series) -> list[object]:
    """The distinct values in order of appearance: the ones an error message names first."""
    return list(dict.fromkeys(values.tolist()))


def sample_text(distinct: list[object], limit: int = 3) -> str:
    """``'a', 'b', 'c' and 2 more``: the values an error message names."""
    shown = ", ".join(repr(v) for v in distinct[:limit])
    return shown + (f" and {len(distinct) - limit} more" if len(distinct) > limit else "")


@dataclass(frozen=True)
class RowCheck:
    """One reason a row is rejected, in the order rows are checked (the first failing counts)."""

    column: str
    check: str  # "missing", "range", "whole" or "length"
    reason: str
    low: float = float("-inf")
    high: float = float("inf")


# Per config object: the API asks for them on every batch it scores. The config is kept with
# its checks, so an id is never taken for another config's while its entry is here.
_ROW_CHECKS: dict[int, tuple[ModelConfig, tuple[RowCheck, ...]]] = {}


def row_checks(config: ModelConfig) -> tuple[RowCheck, ...]:
    """The row checks of ``config``'s features: what both engines count rejected rows by."""
    known = _ROW_CHECKS.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    checks = tuple(_row_checks(config))
    if len(_ROW_CHECKS) >= 64:  # tests make many configs; a server has one or two
        _ROW_CHECKS.clear()
    _ROW_CHECKS[id(config)] = (config, checks)
    return checks


def _row_checks(config: ModelConfig) -> list[RowCheck]:
    checks = []
    for spec in config.columns_with_role("feature"):
        checks.append(RowCheck(spec.name, "missing", f"missing {spec.name}"))
        if spec.kind == "numeric" and (spec.min is not None or spec.max is not None):
            checks.append(
                RowCheck(
                    spec.name,
                    "range",
                    f"{spec.name} outside [{spec.min}, {spec.max}]",
                    low=float("-inf") if spec.min is None else spec.min,
                    high=float("inf") if spec.max is None else spec.max,
                )
            )
        if spec.kind == "numeric" and spec.dtype == "int":
            # 47.5 years is not an age a client meant: the schema publishes "integer", and
            # a value the model would score silently must not pass a check the schema states.
            checks.append(RowCheck(spec.name, "whole", f"{spec.name} not a whole number"))
        if spec.kind == "text" and spec.max_length is not None:
            checks.append(
                RowCheck(
                    spec.name,
                    "length",
                    f"{spec.name} longer than {spec.max_length}",
                    high=spec.max_length,
                )
            )
    return checks


def _row_problems(
    config: ModelConfig,
    missing_masks: dict[str, np.ndarray],
    numbers: Callable[[str], np.ndarray],
    lengths: Callable[[str], np.ndarray],
) -> tuple[np.ndarray, list[str]]:
    """Per row the index of its first problem by column order (0: fine) and the problems' text.

    ``numbers`` gives a numeric column as float64, ``lengths`` a text column's lengths. Integer
    codes rather than a column of strings: this runs on every chunk of every batch and
    comparing object arrays was most of the time prediction spent outside the model. The
    checks of a kind run as one operation on a matrix, one row per check: check by check, the
    API spent more time on numpy's per-call overhead than on the rows.
    """
    import numpy as np

    checks = row_checks(config)
    rows = len(next(iter(missing_masks.values()))) if missing_masks else 0
    if not checks or rows == 0:
        return np.zeros(rows, dtype=np.int32), [""]
    hits = np.zeros((len(checks), rows), dtype=bool)
    by_kind: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        by_kind.setdefault(check.check, []).append(index)
    kept = {name: ~mask for name, mask in missing_masks.items()}  # present values
    with np.errstate(invalid="ignore"):
        for kind, at in by_kind.items():
            names = [checks[i].column for i in at]
            if kind == "missing":
                hits[at] = np.stack([missing_masks[name] for name in names])
                continue
            present = np.stack([kept[name] for name in names])
            if kind == "range":
                values = np.stack([numbers(name) for name in names])
                low = np.array([checks[i].low for i in at])[:, None]
                high = np.array([checks[i].high for i in at])[:, None]
                hits[at] = present & ((values < low) | (values > high))
            elif kind == "whole":
                values = np.stack([numbers(name) for name in names])
                hits[at] = present & (np.mod(values, 1.0) != 0)
            else:
                values = np.stack([lengths(name) for name in names])
                high = np.array([checks[i].high for i in at])[:, None]
                hits[at] = present & (values > high)
    flagged = hits.any(axis=0)
    if not flagged.any():
        return np.zeros(rows, dtype=np.int32), [""]
    first = hits.argmax(axis=0)  # a row counts under its first problem only
    used = np.unique(first[flagged])  # ascending: in the checks' order
    problems = [""] + [checks[int(i)].reason for i in used]
    code_of = np.zeros(len(checks), dtype=np.int32)
    code_of[used] = np.arange(1, len(used) + 1, dtype=np.int32)
    return np.where(flagged, code_of[first], 0).astype(np.int32), problems


def _frame_numbers(frame: pd.DataFrame) -> Callable[[str], np.ndarray]:
    return lambda name: frame[name].to_numpy(dtype="float64")


def _frame_lengths(frame: pd.DataFrame) -> Callable[[str], np.ndarray]:
    return lambda name: frame[name].str.len().to_numpy(dtype="float64", na_value=0.0)


def signature_problems(
    champion_inputs: dict[str, str], candidate_inputs: dict[str, str]
) -> list[str]:
    """Why a candidate cannot take the champion's inputs: columns it lacks or types it changes.

    A candidate may need fewer columns; it must not need more or read a column differently,
    or the batches and API requests shaped for the champion would break after promotion.
    """
    problems = [
        f"'{name}' is {kind} for the champion but {candidate_inputs[name]} for the candidate"
        for name, kind in champion_inputs.items()
        if name in candidate_inputs and candidate_inputs[name] != kind
    ]
    problems += [
        f"needs '{name}', which the champion's inputs do not have"
        for name in candidate_inputs
        if champion_inputs and name not in champion_inputs
    ]
    return problems


# A JSON number is an int or a float (not a bool); a level or a text is a str; None is null.
_NUMBER_TYPES = frozenset((int, float, type(None)))
_TEXT_TYPES = frozenset((str, type(None)))


def _transposed(records: list[dict[str, object]], names: list[str]) -> list[tuple[object, ...]]:
    """The records' values of ``names``, one tuple per name (None where a record lacks it)."""
    if not names:
        return []
    if len(names) == 1:
        return [tuple(record.get(names[0]) for record in records)]
    take = itemgetter(*names)
    try:
        return list(zip(*map(take, records)))
    except KeyError:  # some record lacks a column: the slower way, value by value
        return [tuple(record.get(name) for record in records) for name in names]


def validate_records(
    config: ModelConfig, records: list[dict[str, object]], source: str = "the request"
) -> ValidatedBatch | None:
    """``validate_batch`` for JSON records, without building a frame to check them.

    The API's path: a request's records are checked value by value, with the messages and the
    rejected-row reasons ``validate_batch`` gives, and only the checked columns become a frame.
    Returns None when a value needs pandas' coercion (a number sent as text, a level sent as
    a number, a label): the caller then validates the records as a frame, so every answer is
    the one the batch path would give.
    """
    import numpy as np
    import pandas as pd

    present: dict[str, None] = dict.fromkeys(records[0]) if records else {}
    if len(set().union(*records)) != len(present):  # not all alike: in order of appearance
        for record in records:
            present.update(dict.fromkeys(record))
    if config.target in present:
        return None
    require_features(config, [str(c) for c in present], source)
    known = {c.name for c in config.columns}
    rows = len(records)
    specs = [s for s in config.columns if s.name in present and s.role != "target"]
    columns: dict[str, np.ndarray] = {}
    missing_masks: dict[str, np.ndarray] = {}
    # Values column by column, transposed in C: per value Python work was most of the
    # API's time per record (type checks below are sets of types, also built in C).
    for spec, values in zip(specs, _transposed(records, [s.name for s in specs])):
        kinds = set(map(type, values))
        if spec.kind == "numeric":
            if not kinds <= _NUMBER_TYPES:
                return None
            column = np.array(
                [np.nan if v is None else v for v in values] if type(None) in kinds else values,
                dtype="float64",
            )
            missing = np.isnan(column)
        else:
            if not kinds <= _TEXT_TYPES:
                return None
            if spec.kind == "text":
                missing = np.array([v is None or not str(v).strip() for v in values], dtype=bool)
            else:
                missing = (
                    np.array([v is None for v in values], dtype=bool)
                    if type(None) in kinds
                    else np.zeros(rows, dtype=bool)
                )
                levels, seen = set(spec.levels), set(values)
                seen.discard(None)
                if not seen <= levels:
                    unseen = [v for v in values if v is not None and v not in levels]
                    raise unseen_levels(spec.name, source, list(dict.fromkeys(unseen)), len(unseen))
            column = np.empty(rows, dtype=object)
            column[:] = values
        if spec.role == "feature" and missing.all():
            raise empty_column(spec.name, source)
        columns[spec.name] = column
        missing_masks[spec.name] = missing
    codes, problems = _row_problems(
        config,
        missing_masks,
        lambda name: columns[name],
        lambda name: np.array([0 if v is None else len(v) for v in columns[name]], dtype=float),
    )
    accepted = codes == 0
    counts = np.bincount(codes, minlength=len(problems))
    return ValidatedBatch(
        checked=None,  # built from the arrays if it is asked for
        has_labels=False,
        extra_columns=[str(c) for c in present if c not in known],
        rejected_rows=int((~accepted).sum()),
        rejection_reasons={problems[i]: int(counts[i]) for i in range(1, len(problems))},
        accepted=pd.Series(accepted, index=pd.RangeIndex(rows)),
        arrays=columns,
    )
