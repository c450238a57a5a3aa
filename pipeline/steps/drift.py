"""`pipeline drift`: the batch against the champion's reference; the verdict goes to MLflow.

It also answers the workflow's question for the next job: does the policy say retrain?
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import (
    CHAMPION,
    DatasetInput,
    ModelVersionInfo,
    Registry,
    record_tag,
)
from pipeline.errors import DataError, RegistryError
from pipeline.model.schema import ValidatedBatch, validate_batch
from pipeline.monitoring.drift import DRIFT_FILE, HTML_FILE, ConceptDrift, DriftResult, detect_drift
from pipeline.monitoring.estimation import EstimatedPerformance, PerformanceEstimator
from pipeline.monitoring.performance import labelled_rows, positive_scores
from pipeline.reporting.operations import record_seconds
from pipeline.reporting.report import report_without_evidently, with_banner
from pipeline.results import set_step_outputs, staged_outputs, to_jsonable
from pipeline.steps.predict import engine_for, project_relative
from pipeline.steps.retrain import labelled_history, should_retrain

log = logging.getLogger("pipeline")


def drift_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    reference: Path | None = None,
    engine: str | None = None,
) -> DriftResult:
    """``current`` against ``reference`` (default: the champion's training data).

    The engine reads the batches and draws ``drift_sample_rows`` rows of each, with counts
    over the whole batch: the tests' cost is the sample's, whatever the batch's size.
    """
    started = time.perf_counter()
    sampler = engine_for(settings, engine)
    sample_rows = config.thresholds.drift_sample_rows

    registry = Registry(settings, config)
    current_batch = sampler.sample(config, current, sample_rows, seed=1)
    champion = registry.by_alias(CHAMPION)
    if reference is not None:
        reference_batch = sampler.sample(config, reference, sample_rows, seed=0)
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
    estimator, held_out = None, None
    if champion is not None and model is not None:
        estimator = performance_estimator(registry, config, champion, model, reference_batch)
        holdout = registry.load_holdout_scores(champion)
        if reference is None and holdout is not None:
            # Not the training rows scored in-sample: an overfit champion is surer of those than
            # of any new month, and its score distribution would "drift" with nothing changed.
            held_out = (
                holdout["score"].to_numpy(),
                f"the held-out test split of v{champion.version}",
            )
    result, snapshot = detect_drift(
        config,
        reference_batch,
        current_batch,
        reference_name,
        str(current),
        model=model,
        model_version=champion.version if champion else None,
        reference_metrics=champion.metrics if champion else None,
        estimator=estimator,
        reference_scores=held_out,
    )
    with staged_outputs(out_dir) as outputs:
        staged_html = outputs.path(HTML_FILE)
        if snapshot is not None:
            snapshot.save_html(str(staged_html))
            page = staged_html.read_text(encoding="utf-8")
        else:
            # Nothing for Evidently: text columns only (Driftgate's text test has them) and no
            # champion whose scores it could test.
            page = report_without_evidently(f"Drift report: {config.name} {out_dir.name}")
        # The report opens with Driftgate's verdict: the one the issue states.
        staged_html.write_text(
            with_banner(page, to_jsonable(result), settings.templates_folder()), encoding="utf-8"
        )
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
                    **_period_performance(result.concept_drift, result.estimated_performance),
                    # How large the shifts were: the largest PSI, and each feature's.
                    **_effect_metrics(result.features),
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
                # The sampled rows each side was tested on (drift_sample_rows at most).
                inputs=[
                    DatasetInput(
                        name=f"{config.name}-{out_dir.name}",
                        context="evaluation",
                        source=project_relative(current, settings.project_root),
                        frame=current_batch.frame,
                    ),
                    DatasetInput(
                        name=f"{config.name}-reference",
                        context="reference",
                        source=str(reference) if reference is not None else "",
                        description=reference_name,
                        frame=reference_batch.frame,
                    ),
                ],
            )
        outputs.write_json(DRIFT_FILE, result)
    retrain = should_retrain(
        champion,
        config,
        to_jsonable(result),
        current_batch.labelled_rows,
        force=False,
        now=datetime.now(timezone.utc),
        history=labelled_history(settings, config, out_dir.name, champion),
    )
    # A kept challenger (the shadow) is judged by the retrain step whatever the policy says.
    shadow = registry.shadow(champion)
    reasons = list(retrain.reasons)
    if shadow is not None:
        reasons.append(f"challenger v{shadow.version} is judged on the months it shadowed")
    set_step_outputs(
        {
            "drift_detected": str(result.drift_detected).lower(),
            "drift_share": result.drift_share,
            "n_drifted_features": result.n_drifted_features,
            "retrain": str(retrain.outcome == "retrain" or shadow is not None).lower(),
            "retrain_reasons": "; ".join(reasons),
        }
    )
    record_seconds(out_dir, "drift", started)
    return result


def _period_performance(
    concept: ConceptDrift | None, estimated: EstimatedPerformance | None
) -> dict[str, float]:
    values: dict[str, float] = {}
    if concept is not None:
        values.update(
            {
                f"champion_{concept.metric}": concept.current,
                f"reference_{concept.metric}": concept.reference,
                "labelled_rows": float(concept.labelled_rows),
            }
        )
    if estimated is not None:
        values.update(
            {
                f"estimated_{estimated.metric}": estimated.value,
                f"estimated_{estimated.metric}_lower": estimated.lower,
                f"estimated_{estimated.metric}_upper": estimated.upper,
                "estimated_f1": estimated.f1,
            }
        )
    return values


def performance_estimator(
    registry: Registry,
    config: ModelConfig,
    champion: ModelVersionInfo,
    model: Any,
    reference: ValidatedBatch,
) -> PerformanceEstimator | None:
    """The champion's performance estimator, calibrated on its held-out test scores.

    A version trained before those were logged is calibrated on its training data instead
    (in-sample, so its estimates lean optimistic; ``calibrated_on`` says so).
    """
    estimator = PerformanceEstimator(threshold=config.decision_threshold)
    holdout = registry.load_holdout_scores(champion)
    if holdout is not None:
        source = f"held-out test split of v{champion.version}"
        scores, labels = holdout["score"].to_numpy(), holdout["label"].to_numpy()
    elif reference.has_labels:
        source = f"training data of v{champion.version} (in-sample)"
        features, labels = labelled_rows(reference.frame, config)
        scores = positive_scores(model, features)
    else:
        log.info("no labelled reference to calibrate on: performance is not estimated")
        return None
    try:
        return estimator.fit(scores, labels, source)
    except DataError as error:
        log.warning("performance is not estimated: %s", error)
        return None


def _effect_metrics(features: list[Any]) -> dict[str, float]:
    """``max_psi`` and ``psi_<feature>`` for MLflow (the card's drift history reads max_psi)."""
    values = {f"psi_{f.name}": float(f.psi) for f in features if f.psi is not None}
    if values:
        values["max_psi"] = max(values.values())
    return values
