"""`pipeline drift`: the batch against the champion's reference; the verdict goes to MLflow.

It also answers the workflow's question for the next job: does the policy say retrain?
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHAMPION, Registry, record_tag
from pipeline.errors import RegistryError
from pipeline.model.data import read_batch
from pipeline.model.schema import validate_batch
from pipeline.monitoring.drift import DRIFT_FILE, HTML_FILE, ConceptDrift, DriftResult, detect_drift
from pipeline.reporting.operations import record_seconds
from pipeline.results import set_step_outputs, staged_outputs, to_jsonable
from pipeline.steps.retrain import should_retrain


def drift_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    reference: Path | None = None,
) -> DriftResult:
    started = time.perf_counter()

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
            record_key, record_value = record_tag(result.verdict, result.reasons, "")
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
                    # The champion on this period's labels, next to its own test score: the
                    # card's "performance over time" reads these back, period by period.
                    **_period_performance(result.concept_drift),
                },
                {"drifted_features": ",".join(result.drifted_features)[:6000] or "-"},
                {
                    "driftgate.period": out_dir.name,
                    "driftgate.model_version": str(result.model_version or ""),
                    "driftgate.verdict": result.verdict,
                    "driftgate.reasons": " | ".join(result.reasons)[:5000],
                    record_key: record_value,  # the verdict, in the decision record
                },
                artifacts=[html],
            )
        outputs.write_json(DRIFT_FILE, result)
    retrain = should_retrain(
        champion,
        config,
        to_jsonable(result),
        current_batch.labelled_rows,
        force=False,
        now=datetime.now(timezone.utc),
    )
    set_step_outputs(
        {
            "drift_detected": str(result.drift_detected).lower(),
            "drift_share": result.drift_share,
            "n_drifted_features": result.n_drifted_features,
            "retrain": str(retrain.outcome == "retrain").lower(),
            "retrain_reasons": "; ".join(retrain.reasons),
        }
    )
    record_seconds(out_dir, "drift", started)
    return result


def _period_performance(concept: ConceptDrift | None) -> dict[str, float]:
    if concept is None:
        return {}
    return {
        f"champion_{concept.metric}": concept.current,
        f"reference_{concept.metric}": concept.reference,
        "labelled_rows": float(concept.labelled_rows),
    }
