"""Engines: where a batch is scored and sampled for drift.

``PandasEngine`` works through the batch in chunks on this machine; ``SparkEngine``
(``pipeline.edges.spark``) does the same on a Spark cluster, or in local mode. Both read a CSV or
Parquet file or a folder of Parquet parts, reject rows for the same reasons (``row_checks``),
write the same ``predict.json`` beside their predictions, and hand drift a sample of at most
``drift_sample_rows`` rows with counts over the whole batch. ``tests/test_engines.py`` runs every
engine through one conformance test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import ModelConfig
from pipeline.errors import DataError
from pipeline.model.predict import (
    PredictionSummary,
    predict_file,
    read_ahead,
    validated_chunks,
)
from pipeline.model.schema import Population, ValidatedBatch, empty_column


@dataclass(frozen=True)
class ScoringModel:
    """The champion as an engine needs it: loaded here (pandas) or named by URI (Spark workers)."""

    version: int
    run_id: str
    uri: str
    load: Callable[[], Any]


class Engine(Protocol):
    """Scores batches and samples them; constructors only store settings."""

    name: str

    def predict(
        self,
        model: ScoringModel,
        config: ModelConfig,
        source: Path,
        out_dir: Path,
        recorded_source: str | None = None,
    ) -> PredictionSummary:
        """Write the predictions and ``predict.json`` to ``out_dir``; nothing on failure."""
        ...

    def sample(self, config: ModelConfig, source: Path, rows: int, seed: int) -> ValidatedBatch:
        """At most ``rows`` validated rows drawn uniformly, in batch order, with the batch's
        counts (rows, rejected rows, labelled rows, missing rates) in ``population``."""
        ...


class PandasEngine:
    name = "pandas"

    def __init__(self, chunk_rows: int) -> None:
        self.chunk_rows = chunk_rows

    def predict(
        self,
        model: ScoringModel,
        config: ModelConfig,
        source: Path,
        out_dir: Path,
        recorded_source: str | None = None,
    ) -> PredictionSummary:
        return predict_file(
            model.load(),
            config,
            model.version,
            model.run_id,
            source,
            out_dir,
            self.chunk_rows,
            recorded_source=recorded_source,
        )

    def sample(self, config: ModelConfig, source: Path, rows: int, seed: int) -> ValidatedBatch:
        """A chunk at a time: each row gets a random key and the ``rows`` smallest keys stay.

        That is a uniform sample without replacement whatever the batch's size, in memory that
        does not grow with it; a batch of ``rows`` or fewer comes back whole, in order.
        """
        import numpy as np
        import pandas as pd

        generator = np.random.default_rng(seed)
        kept: pd.DataFrame | None = None
        keys = np.empty(0)
        total = rejected = labelled = 0
        has_labels = False
        missing: dict[str, int] = {}
        reasons: dict[str, int] = {}
        extra: list[str] = []
        for batch in read_ahead(validated_chunks(source, config, self.chunk_rows)):
            frame = batch.frame.set_axis(pd.RangeIndex(total, total + len(batch.frame)))
            for name, count in frame.isna().sum().items():
                missing[str(name)] = missing.get(str(name), 0) + int(count)
            for reason, count in batch.rejection_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
            rejected += batch.rejected_rows
            labelled += batch.labelled_rows
            has_labels = has_labels or batch.has_labels
            extra = batch.extra_columns
            frame_keys = generator.random(len(frame))
            kept = frame if kept is None else pd.concat([kept, frame], copy=False)
            keys = np.concatenate([keys, frame_keys])
            if len(kept) > rows:
                smallest = np.argpartition(keys, rows - 1)[:rows]
                kept, keys = kept.iloc[smallest], keys[smallest]
            total += len(frame)
        if kept is None or total == 0:
            raise DataError(f"{source} has no rows")
        rates = {name: count / total for name, count in missing.items()}
        empty = [name for name in config.features if rates.get(name) == 1.0]
        if empty:
            raise empty_column(empty[0], str(source))
        sample = kept.sort_index().reset_index(drop=True)
        return ValidatedBatch(
            checked=sample,
            has_labels=has_labels,
            extra_columns=extra,
            rejected_rows=rejected,
            rejection_reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            population=Population(rows=total, labelled_rows=labelled, missing_rates=rates),
        )
