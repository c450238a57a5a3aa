"""Operational metrics of a run: how much was scored, how fast, what was rejected and why.

Every step adds its processing time to ``timings.json`` in the period's folder; the report step
summarises those with the prediction and drift results (pure, below), logs the summary as an
MLflow ``operations`` run and shows it in the drift issue.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.results import read_json, write_json_atomic

TIMINGS_FILE = "timings.json"
OPERATIONS_FILE = "operations.json"


def record_seconds(out_dir: Path, step: str, started: float) -> float:
    """Add ``step``'s time since ``started`` (``time.perf_counter()``) to the period's timings."""
    seconds = round(time.perf_counter() - started, 3)
    path = out_dir / TIMINGS_FILE
    timings = read_json(path) if path.exists() else {}
    timings[step] = seconds
    write_json_atomic(path, timings)
    return seconds


@dataclass
class Operations:
    rows: int
    scored_rows: int
    rejected_rows: int
    seconds_per_1000_rows: float | None
    step_seconds: dict[str, float]
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    missing_rates: dict[str, float] = field(default_factory=dict)
    model_version: int | None = None
    mlflow_run_id: str | None = None

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics (metric names keep only the characters MLflow accepts)."""
        values: dict[str, float] = {
            "rows": float(self.rows),
            "scored_rows": float(self.scored_rows),
            "rejected_rows": float(self.rejected_rows),
            "seconds_total": float(sum(self.step_seconds.values())),
        }
        if self.seconds_per_1000_rows is not None:
            values["seconds_per_1000_rows"] = self.seconds_per_1000_rows
        values.update({f"seconds_{_name(s)}": v for s, v in self.step_seconds.items()})
        values.update({f"missing_rate_{_name(c)}": v for c, v in self.missing_rates.items()})
        return values


def operations(
    predict: dict[str, Any] | None, drift: dict[str, Any] | None, timings: dict[str, Any]
) -> Operations:
    """The run's operational summary from its JSON results alone."""
    predict = predict or {}
    quality = (drift or {}).get("data_quality") or {}
    rows = int(predict.get("rows") or quality.get("current_rows") or 0)
    seconds = predict.get("seconds")
    latency = 1000 * float(seconds) / rows if rows and seconds is not None else None
    missing = predict.get("missing_rates") or quality.get("missing_rates") or {}
    return Operations(
        rows=rows,
        scored_rows=int(predict.get("scored_rows") or 0),
        rejected_rows=int(predict.get("rejected_rows") or quality.get("rejected_rows") or 0),
        seconds_per_1000_rows=None if latency is None else round(latency, 4),
        step_seconds={str(k): float(v) for k, v in timings.items()},
        rejection_reasons={
            str(k): int(v) for k, v in (predict.get("rejection_reasons") or {}).items()
        },
        missing_rates={str(k): float(v) for k, v in missing.items() if float(v) > 0},
        model_version=predict.get("model_version"),
    )


def _name(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", text)
