"""`pipeline predict`: the champion scores a batch file; the summary goes to MLflow and the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pipeline.config import ENGINES, ModelConfig, Settings
from pipeline.edges.registry import CHALLENGER, CHAMPION, DatasetInput, Registry
from pipeline.errors import ConfigError
from pipeline.model.data import dataset_location, file_digest, is_uri
from pipeline.model.engine import Engine, PandasEngine
from pipeline.model.predict import SHADOW_DIR, SUMMARY_FILE, PredictionSummary
from pipeline.reporting.operations import record_seconds
from pipeline.results import append_jsonl, set_step_outputs

log = logging.getLogger("pipeline")


def project_relative(source: Path, root: Path) -> str:
    """How results name a batch: relative to the project (valid in any clone), or its URI."""
    if is_uri(source):
        return dataset_location(source)
    try:
        return source.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(source)


def engine_for(settings: Settings, name: str | None = None) -> Engine:
    """The engine called ``name`` (default: the ``engine`` setting)."""
    chosen = name or settings.engine
    if chosen == "spark":
        from pipeline.edges.spark import SparkEngine

        return SparkEngine(
            settings.spark_master, settings.spark_predictions_uri, settings.spark_remote
        )
    if chosen != "pandas":
        raise ConfigError(f"unknown engine '{chosen}' (choose from {', '.join(ENGINES)})")
    return PandasEngine(settings.predict_chunk_rows)


def predict_step(
    settings: Settings,
    config: ModelConfig,
    source: Path,
    out_dir: Path,
    engine: str | None = None,
) -> PredictionSummary:
    started = time.perf_counter()
    scorer = engine_for(settings, engine)
    registry = Registry(settings, config)
    champion = registry.require_alias(CHAMPION)
    recorded = project_relative(source, settings.project_root)
    summary = scorer.predict(
        registry.scoring_model(champion), config, source, out_dir, recorded_source=recorded
    )
    shadow = registry.shadow(champion)
    if shadow is not None and not getattr(scorer, "remote", ""):
        # The kept challenger scores the same batch beside the champion; its scores wait for
        # the labels, which then judge both models on the same rows (``retrain``).
        scorer.predict(
            registry.scoring_model(shadow, alias=CHALLENGER),
            config,
            source,
            out_dir / SHADOW_DIR,
            recorded_source=recorded,
        )
        log.info("shadow: challenger v%d scored the batch beside the champion", shadow.version)
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
        {"model_version": str(summary.model_version), "engine": scorer.name},
        {"driftgate.period": out_dir.name},
        # The batch is streamed, never whole in memory: its digest is its bytes' SHA-256.
        inputs=[
            DatasetInput(
                name=f"{config.name}-{out_dir.name}",
                context="scoring",
                source=recorded,
                digest=file_digest(source),
            )
        ],
    )
    set_step_outputs({"rows": summary.rows, "positive_rate": summary.positive_rate})
    log.info("predictions written to %s", out_dir / SUMMARY_FILE)
    record_seconds(out_dir, "predict", started)
    return summary
