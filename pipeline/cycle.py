"""The monthly cycle's steps (train, predict, drift, retrain, report, promote, rollback).

Each step reads its inputs from files or MLflow, writes one JSON result, and returns it; the CLI
calls a step per command and ``run_cycle`` calls them in the order the workflow does.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig, Settings
from pipeline.data import read_batch, write_frame
from pipeline.errors import GateError, RegistryError
from pipeline.registry import CHAMPION, AliasMove, ModelVersionInfo, Registry
from pipeline.results import (
    append_jsonl,
    read_json,
    set_step_outputs,
    staged_outputs,
    to_jsonable,
    write_json_atomic,
)
from pipeline.schema import validate_batch

log = logging.getLogger("pipeline")


def current_period() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m")


def period_seed(period: str) -> int:
    digits = "".join(ch for ch in period if ch.isdigit())
    return int(digits) if digits else 0


def generate_batch(
    settings: Settings,
    config: ModelConfig,
    out: Path,
    rows: int,
    seed: int,
    drift: str = "none",
    labels: bool = True,
    start_id: int = 1,
) -> Path:
    from pipeline.synthetic import generate

    frame = generate(config, rows, seed, drift=drift, start_id=start_id, labels=labels)
    with staged_outputs(out.parent) as outputs:
        write_frame(outputs, out.name, frame)
    return out


def train_step(
    settings: Settings,
    config: ModelConfig,
    data: Path | None,
    seed: int = 0,
    reason: str = "manual training",
) -> ModelVersionInfo:
    from pipeline.train import train

    if data is None:
        data = settings.path(settings.data_dir) / config.name / "training.parquet"
        log.info("no --data given: generating %d synthetic training rows", config.training_rows)
        generate_batch(settings, config, data, config.training_rows, seed)
    batch = validate_batch(read_batch(data), config, str(data))
    outcome = train(config, batch.frame, seed)
    registry = Registry(settings, config)
    return registry.log_training(outcome, batch.frame, reason=reason)


def predict_step(settings: Settings, config: ModelConfig, source: Path, out_dir: Path) -> Any:
    from pipeline.predict import SUMMARY_FILE, predict_file

    registry = Registry(settings, config)
    champion = registry.require_alias(CHAMPION)
    model = registry.load_model(champion)
    summary = predict_file(
        model,
        config,
        champion.version,
        champion.run_id,
        source,
        out_dir,
        settings.predict_chunk_rows,
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
    return summary


def drift_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    reference: Path | None = None,
) -> Any:
    from pipeline.drift import DRIFT_FILE, HTML_FILE, detect_drift

    registry = Registry(settings, config)
    current_batch = validate_batch(read_batch(current), config, str(current))
    champion = registry.by_alias(CHAMPION)
    if reference is not None:
        reference_batch = validate_batch(read_batch(reference), config, str(reference))
        reference_name = str(reference)
    elif champion is not None:
        raw = registry.load_reference(champion)
        reference_name = f"training data of {config.name} v{champion.version} (MLflow)"
        reference_batch = validate_batch(raw, config, reference_name)
    else:
        raise RegistryError(
            f"no --reference given and model '{config.name}' has no champion to take it from"
        )
    model = registry.load_model(champion) if champion is not None else None
    result, snapshot = detect_drift(
        config,
        reference_batch,
        current_batch,
        reference_name,
        str(current),
        model=model,
        model_version=champion.version if champion else None,
        reference_metrics=champion.metrics if champion else None,
    )
    with staged_outputs(out_dir) as outputs:
        staged_html = outputs.path(HTML_FILE)
        snapshot.save_html(str(staged_html))
        with tempfile.TemporaryDirectory() as folder:
            # MLflow names the artifact after the file, so log a copy under its final name.
            html = Path(folder) / HTML_FILE
            shutil.copyfile(staged_html, html)
            result.mlflow_run_id = registry.log_run(
                "drift",
                {
                    "drift_detected": float(result.drift_detected),
                    "drift_score": result.drift_score,
                    "drift_share": result.drift_share,
                    "n_drifted_features": float(result.n_drifted_features),
                    "prediction_drift_score": (
                        result.prediction_drift.score if result.prediction_drift else float("nan")
                    ),
                },
                {"drifted_features": ",".join(result.drifted_features)[:6000] or "-"},
                {
                    "driftgate.period": out_dir.name,
                    "driftgate.verdict": result.verdict,
                    "driftgate.reasons": " | ".join(result.reasons)[:5000],
                },
                artifacts=[html],
            )
        outputs.write_json(DRIFT_FILE, result)
    set_step_outputs(
        {
            "drift_detected": str(result.drift_detected).lower(),
            "drift_share": result.drift_share,
            "n_drifted_features": result.n_drifted_features,
        }
    )
    return result


def retrain_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    force: bool = False,
) -> Any:
    from pipeline.drift import DRIFT_FILE
    from pipeline.retrain import RETRAIN_FILE, run_retrain

    drift = read_json(out_dir / DRIFT_FILE) if (out_dir / DRIFT_FILE).exists() else {}
    if not drift and not force:
        raise RegistryError(f"{out_dir / DRIFT_FILE} does not exist: run `pipeline drift` first")
    batch = validate_batch(read_batch(current), config, str(current))
    result = run_retrain(
        Registry(settings, config),
        config,
        batch,
        drift,
        out_dir / RETRAIN_FILE,
        force=force,
        period=out_dir.name,
    )
    set_step_outputs(
        {
            "retrained": str(result.retrained).lower(),
            "decision": result.decision,
            "challenger_version": result.challenger_version or "",
        }
    )
    return result


def report_step(config: ModelConfig, out_dir: Path, dry_run: bool = True) -> Any:
    from pipeline.report import ISSUE_JSON, ISSUE_MARKDOWN, load_results, render_issue

    draft = render_issue(load_results(out_dir, config.name, out_dir.name))
    with staged_outputs(out_dir) as outputs:
        outputs.write_text(ISSUE_MARKDOWN, draft.body)
        outputs.write_json(ISSUE_JSON, draft)
    return draft


def promote_step(
    settings: Settings,
    config: ModelConfig,
    version: int | None = None,
    run_id: str | None = None,
    reason: str = "manual promotion",
) -> AliasMove:
    """Re-check the metric gates on the version's held-out test metrics, then move ``champion``."""
    registry = Registry(settings, config)
    if run_id:
        target = registry.by_run_id(run_id)
    elif version is not None:
        target = registry.version(version)
    else:
        raise GateError("name the version to promote with --model-version N or --run-id ID")
    thresholds = config.thresholds
    failed = []
    for metric, minimum in (("roc_auc", thresholds.min_roc_auc), ("f1", thresholds.min_f1)):
        value = target.metrics.get(f"test_{metric}")
        if value is None or value < minimum:
            failed.append(f"test {metric} {value} is below the gate {minimum}")
    if failed:
        registry.tag_version(target.version, "driftgate.promotion_refused", "; ".join(failed))
        raise GateError(f"version {target.version} of '{config.name}' refused: {'; '.join(failed)}")
    return registry.promote(target.version, reason)


def rollback_step(settings: Settings, config: ModelConfig, reason: str) -> AliasMove:
    return Registry(settings, config).rollback(reason)


@dataclass
class CycleResult:
    model: str
    period: str
    out_dir: str
    batch: str
    bootstrapped_version: int | None
    drift_detected: bool
    retrain_decision: str
    issue_title: str


def run_cycle(
    settings: Settings,
    config: ModelConfig,
    period: str,
    simulate_drift: bool = False,
    force_retrain: bool = False,
    current: Path | None = None,
    dry_run: bool = True,
) -> CycleResult:
    """Predict, detect drift, retrain when the policy says so, and render the report."""
    registry = Registry(settings, config)
    bootstrapped = None
    if registry.by_alias(CHAMPION) is None:
        log.info("model '%s' has no champion yet: training the first version", config.name)
        bootstrapped = train_step(settings, config, None, reason="first version").version
    out_dir = settings.output_dir_for(config.name, period)
    if current is None:
        kind = "mixed" if simulate_drift else "none"
        current = settings.path(settings.data_dir) / config.name / f"{period}-{kind}.csv"
        log.info("no --current given: generating the %s batch (%s drift)", period, kind)
        seed = period_seed(period)
        generate_batch(settings, config, current, config.batch_rows, seed, kind, start_id=seed * 10)
    log.info("step 1/4: batch prediction")
    predict_step(settings, config, current, out_dir)
    log.info("step 2/4: drift detection")
    drift = drift_step(settings, config, current, out_dir)
    log.info("step 3/4: retraining policy")
    retrain = retrain_step(settings, config, current, out_dir, force=force_retrain)
    log.info("step 4/4: report")
    draft = report_step(config, out_dir, dry_run=dry_run)
    result = CycleResult(
        model=config.name,
        period=period,
        out_dir=str(out_dir),
        batch=str(current),
        bootstrapped_version=bootstrapped,
        drift_detected=drift.drift_detected,
        retrain_decision=retrain.decision,
        issue_title=draft.title,
    )
    write_json_atomic(out_dir / "cycle.json", to_jsonable(result))
    return result
