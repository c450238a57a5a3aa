"""`pipeline predict`: the champion scores a batch file; the summary goes to MLflow and the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHAMPION, Registry
from pipeline.model.predict import SUMMARY_FILE, PredictionSummary, predict_file
from pipeline.reporting.operations import record_seconds
from pipeline.results import append_jsonl, set_step_outputs

log = logging.getLogger("pipeline")


def predict_step(
    settings: Settings, config: ModelConfig, source: Path, out_dir: Path
) -> PredictionSummary:
    started = time.perf_counter()
    registry = Registry(settings, config)
    champion = registry.require_alias(CHAMPION)
    model = registry.load_model(champion)
    try:
        recorded = source.resolve().relative_to(settings.project_root).as_posix()
    except ValueError:
        recorded = str(source)
    summary = predict_file(
        model,
        config,
        champion.version,
        champion.run_id,
        source,
        out_dir,
        settings.predict_chunk_rows,
        recorded_source=recorded,
    )
    append_jsonl(
        settings.path(settings.output_dir) / config.name / "prediction_log.jsonl",
        {
            "period": out_dir.name,
            "model_version": summary.model_version,
            "rows": summary.rows,
            "scored_rows": summary.scored_rows,
            "positive_rate": summary.positive_rate,
            "mean_score": summary.mean_score,
            "created_at": summary.created_at,
        },
    )
    latency = 1000 * summary.seconds / summary.rows if summary.rows else 0.0
    registry.log_run(
        "predict",
        {
            "rows": summary.rows,
            "scored_rows": summary.scored_rows,
            "rejected_rows": summary.rejected_rows,
            "rows_per_second": summary.rows_per_second,
            "seconds_per_1000_rows": latency,
            "positive_rate": summary.positive_rate or 0.0,
        },
        {"model_version": str(summary.model_version)},
        {"driftgate.period": out_dir.name},
    )
    set_step_outputs({"rows": summary.rows, "positive_rate": summary.positive_rate})
    log.info("predictions written to %s", out_dir / SUMMARY_FILE)
    record_seconds(out_dir, "predict", started)
    return summary
