"""`pipeline labels`: late labels joined to the predictions of the period they belong to.

The period's realized performance (of the version that scored it) goes to MLflow, on the
period's drift run, and to ``performance.json`` beside the period's outputs, next to what was
estimated for it before the labels were known. Labels accumulate per period in
``labels.parquet``; ingesting a file again changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import Registry
from pipeline.errors import DataError
from pipeline.model.data import read_batch, write_frame
from pipeline.model.labels import (
    LABELS_FILE,
    PERFORMANCE_FILE,
    id_column,
    id_keys,
    validate_labels,
)
from pipeline.model.periods import is_month, months_between
from pipeline.model.predict import PREDICTIONS_FILE, SHADOW_DIR, SUMMARY_FILE
from pipeline.monitoring.drift import DRIFT_FILE
from pipeline.monitoring.performance import score_metrics
from pipeline.results import read_json, read_json_if_exists, staged_outputs

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pipeline")


@dataclass
class RealizedPerformance:
    """What ``performance.json`` holds: a period's metrics once (some of) its labels arrived."""

    model: str
    period: str
    model_version: int | None
    scored_rows: int
    labelled_rows: int
    positive_rate: float
    metrics: dict[str, float]
    estimated: dict[str, Any] | None
    estimation_error: float | None
    label_files: list[str]
    updated_at: str
    mlflow_run_id: str | None = None
    # The kept challenger's realized metrics on the same rows, when it scored the period too:
    # {"model_version", "metrics", "labelled_rows"}.
    shadow: dict[str, Any] | None = None


@dataclass
class LabelIngest:
    model: str
    period: str
    file: str
    new_labels: int
    changed: bool
    performance: RealizedPerformance | None


def labels_step(
    settings: Settings, config: ModelConfig, file: Path, period: str | None = None
) -> LabelIngest:
    """Validate ``file``, add its labels to its period, and record that period's performance."""
    key = id_column(config)
    raw = read_batch(file)
    folder = _period_folder(settings, config, raw, key, file, period)
    predictions = _read_parquet(folder / PREDICTIONS_FILE)
    incoming = validate_labels(raw, config, str(file), predictions[key])
    existing = (
        _read_parquet(folder / LABELS_FILE)
        if (folder / LABELS_FILE).exists()
        else incoming.iloc[0:0]
    )
    merged, new = _merge(existing, incoming, config, str(file), folder.name)
    earlier = folder / PERFORMANCE_FILE
    if new == 0 and earlier.exists():
        log.info("every label in %s was already ingested for %s: nothing changes", file, folder)
        performance = RealizedPerformance(**read_json(earlier))
        return LabelIngest(config.name, folder.name, str(file), 0, False, performance)

    drift = read_json_if_exists(folder / DRIFT_FILE)
    performance = _performance(config, folder, drift, predictions, merged, key, file)
    performance.shadow = _shadow_performance(config, folder, merged, key)
    performance.mlflow_run_id = _log_to_mlflow(settings, config, folder, drift, performance)
    # MLflow first, then both files in one staged move: a failed write leaves neither file new.
    with staged_outputs(folder) as outputs:
        write_frame(outputs, LABELS_FILE, merged)
        outputs.write_json(PERFORMANCE_FILE, performance)
    log.info(
        "%d new label(s) for %s %s: %d labelled rows", new, config.name, folder.name, len(merged)
    )
    return LabelIngest(config.name, folder.name, str(file), new, True, performance)


def _period_folder(
    settings: Settings,
    config: ModelConfig,
    raw: pd.DataFrame,
    key: str,
    file: Path,
    period: str | None,
) -> Path:
    """The period ``file`` belongs to: the one named, else the one that scored its ids."""
    root = settings.path(settings.output_dir) / config.name
    if period is not None:
        folder = root / period
        if not (folder / PREDICTIONS_FILE).exists():
            raise DataError(
                f"{config.name} has no predictions for period {period} "
                f"({folder / PREDICTIONS_FILE} does not exist): labels join the predictions "
                "of the period they belong to"
            )
        return folder
    if key not in raw.columns:
        raise DataError(f"{file} is missing column '{key}': the id that joins labels to scores")
    ids = set(id_keys(raw[key].dropna()))
    matches = {
        folder: len(ids & set(id_keys(_read_parquet(folder / PREDICTIONS_FILE)[key])))
        for folder in sorted(p for p in root.glob("*") if (p / PREDICTIONS_FILE).exists())
    }
    found = sorted((n, folder.name) for folder, n in matches.items() if n)
    if not found:
        raise DataError(
            f"none of the {len(ids)} id(s) in {file} was scored in any period of "
            f"{config.name} (under {root}); name the period with --period"
        )
    if len(found) > 1:
        raise DataError(
            f"the ids in {file} were scored in {len(found)} periods "
            f"({', '.join(name for _, name in found)}); name the period with --period"
        )
    return root / found[0][1]


def _merge(
    existing: pd.DataFrame, incoming: pd.DataFrame, config: ModelConfig, source: str, period: str
) -> tuple[pd.DataFrame, int]:
    """Earlier labels plus new ones; an id relabelled differently is an error, not an update."""
    import pandas as pd

    key, target = id_column(config), config.target
    before = dict(zip(existing[key].astype(str), existing[target].astype(str), strict=True))
    clashes = [
        (k, v, before[k])
        for k, v in zip(incoming[key], incoming[target], strict=True)
        if k in before and before[k] != v
    ]
    if clashes:
        k, v, was = clashes[0]
        raise DataError(
            f"{source} gives {len(clashes)} id(s) of period {period} a different label than "
            f"before (e.g. id {k}: {v!r}, was {was!r}); nothing was changed"
        )
    new = incoming[~incoming[key].isin(set(before))]
    merged = pd.concat([existing, new], ignore_index=True)
    return merged, len(new)


def _realized(
    config: ModelConfig, predictions: pd.DataFrame, labels: pd.DataFrame, key: str
) -> tuple[dict[str, float], int, float]:
    """Metrics of ``predictions`` on the labelled rows, their count and positive rate."""
    scored = predictions[[key, "score"]].assign(**{key: id_keys(predictions[key])})
    joined = scored.merge(labels, on=key, how="inner")
    joined = joined[joined["score"].notna()]
    truth = (joined[config.target] == config.positive_class).to_numpy(dtype=int)
    metrics = {
        name: round(value, 4)
        for name, value in score_metrics(
            joined["score"].to_numpy(), truth, config.decision_threshold
        ).items()
    }
    rate = round(float(truth.mean()), 4) if len(truth) else 0.0
    return metrics, len(joined), rate


def _shadow_performance(
    config: ModelConfig, folder: Path, labels: pd.DataFrame, key: str
) -> dict[str, Any] | None:
    """The shadow's realized metrics on the period's labels, when it scored the period."""
    shadow = folder / SHADOW_DIR
    if not (shadow / PREDICTIONS_FILE).exists():
        return None
    metrics, rows, _ = _realized(config, _read_parquet(shadow / PREDICTIONS_FILE), labels, key)
    version = read_json_if_exists(shadow / SUMMARY_FILE).get("model_version")
    return {"model_version": version, "metrics": metrics, "labelled_rows": rows}


def _performance(
    config: ModelConfig,
    folder: Path,
    drift: dict[str, Any],
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    key: str,
    file: Path,
) -> RealizedPerformance:
    metrics, labelled, positive_rate = _realized(config, predictions, labels, key)
    summary = read_json_if_exists(folder / SUMMARY_FILE)
    estimated = drift.get("estimated_performance")
    realized = metrics.get("roc_auc")
    error = (
        round(float(estimated["value"]) - realized, 4)
        if estimated and realized is not None and realized == realized
        else None
    )
    files = list(read_json_if_exists(folder / PERFORMANCE_FILE).get("label_files", []))
    return RealizedPerformance(
        model=config.name,
        period=folder.name,
        model_version=summary.get("model_version") or drift.get("model_version"),
        scored_rows=int(predictions["score"].notna().sum()),
        labelled_rows=labelled,
        positive_rate=positive_rate,
        metrics=metrics,
        estimated=estimated,
        estimation_error=error,
        label_files=[*files, file.name] if file.name not in files else files,
        updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _log_to_mlflow(
    settings: Settings,
    config: ModelConfig,
    folder: Path,
    drift: dict[str, Any],
    performance: RealizedPerformance,
) -> str:
    """The realized metrics on the period's drift run (or a ``labels`` run when it has none)."""
    registry = Registry(settings, config)
    metrics = {f"realized_{k}": v for k, v in performance.metrics.items()}
    metrics["realized_labelled_rows"] = float(performance.labelled_rows)
    if performance.estimation_error is not None:
        metrics["estimation_error_roc_auc"] = performance.estimation_error
    tags = {}
    if performance.shadow:
        # The card's and the dashboard's "champion and shadow per month" read these back.
        metrics.update({f"shadow_{k}": v for k, v in performance.shadow["metrics"].items()})
        tags["driftgate.shadow_version"] = str(performance.shadow["model_version"])
    run_id = drift.get("mlflow_run_id")
    if run_id:
        registry.add_to_run(str(run_id), metrics=metrics, tags=tags)
        return str(run_id)
    return registry.log_run(
        "labels",
        metrics,
        {"model_version": str(performance.model_version or "-")},
        {"driftgate.period": folder.name},
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path)


def label_inbox(settings: Settings, config: ModelConfig) -> Path:
    """Where label files wait until they are due: ``<data_dir>/<model>/labels/<period>.csv``."""
    return settings.path(settings.data_dir) / config.name / "labels"


def ingest_matured_labels(
    settings: Settings, config: ModelConfig, period: str
) -> list[LabelIngest]:
    """Ingest every waiting label file whose period is ``label_delay_months`` or more back.

    What a month's run does first: the labels that have arrived by now join their periods, so
    that drift, retraining and the report see the realized performance. Idempotent.
    """
    inbox = label_inbox(settings, config)
    if not inbox.is_dir() or not is_month(period):
        return []
    done = []
    root = settings.path(settings.output_dir) / config.name
    for file in sorted(inbox.glob("*.*")):
        labelled = file.name.split(".")[0]
        if not is_month(labelled) or months_between(labelled, period) < config.label_delay_months:
            continue
        if not (root / labelled / PREDICTIONS_FILE).exists():
            continue  # that month was never scored here: nothing to join the labels to
        performance = root / labelled / PERFORMANCE_FILE
        if performance.exists() and file.name in read_json(performance).get("label_files", []):
            continue
        done.append(labels_step(settings, config, file, labelled))
    return done
