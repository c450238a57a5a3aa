"""Drift between a reference batch and a current one, measured with Evidently.

Every feature gets a p-value test (K-S for numbers, chi-square for categories) at the Bonferroni
level ``feature_alpha / n_features``; the champion's scores get a K-S test at
``prediction_alpha``; with labels, the champion's ROC AUC on the current rows is compared with its
held-out ROC AUC at training time. Both sides are sampled down to ``drift_sample_rows`` first, so
the test's power (and its run time) does not grow with the batch. The verdict is ``policy``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.config import ModelConfig
from pipeline.monitoring.effect import effect_size
from pipeline.monitoring.estimation import EstimatedPerformance, PerformanceEstimator
from pipeline.monitoring.performance import evaluate, labelled_rows
from pipeline.monitoring.policy import Decision, drift_verdict, per_column_threshold
from pipeline.monitoring.text import TEXT_TEST, TextDrift, TextDriftResult

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DRIFT_FILE = "drift.json"
HTML_FILE = "drift_report.html"
SCORE_COLUMN = "__score__"
NUMERIC_TEST = "ks"
# Evidently's own "chisquare" is a goodness-of-fit test that takes the reference proportions
# as exact; it ignored the reference's sampling noise and raised 4 false alarms in 20
# same-distribution months here. A two-sample test of homogeneity counts both samples' noise.
CATEGORICAL_TEST = "chi2_homogeneity"
_MIN_LABELLED_FOR_CONCEPT = 50
_THRESHOLD_METRICS = ("precision", "recall", "f1")


class Batch(Protocol):
    """What drift reads of a batch: the model layer's ``ValidatedBatch`` is one.

    A protocol, not an import, so that the statistics never depend on the layer above them.
    """

    @property
    def frame(self) -> pd.DataFrame:
        """The batch, or a sample of it."""
        ...

    has_labels: bool
    extra_columns: list[str]
    rejected_rows: int

    @property
    def rows(self) -> int:
        """Rows in the whole batch (more than the frame's when the frame is a sample)."""
        ...

    @property
    def missing_rates(self) -> dict[str, float]:
        """Each column's share of missing values over the whole batch."""
        ...


@dataclass
class FeatureDrift:
    name: str
    kind: str
    test: str
    score: float
    threshold: float
    drifted: bool
    # A text column's tests, sizes and new terms (None for numeric and categorical columns).
    text: TextDriftResult | None = None
    # How large the shift is (does not grow with the sample, unlike the p-value): PSI with its
    # band, and the Wasserstein (numeric) or Jensen-Shannon (categorical, text) distance.
    psi: float | None = None
    psi_band: str | None = None
    effect_name: str | None = None
    effect: float | None = None


@dataclass
class PredictionDrift:
    detected: bool
    score: float
    test: str
    threshold: float
    reference_mean: float
    current_mean: float
    # Whose scores the current ones were compared with. In-sample scores of an overfit model
    # are more confident than any new month's, so the default is the held-out test split's.
    reference_scores: str = "the reference rows, scored now"


@dataclass
class ConceptDrift:
    metric: str
    reference: float
    current: float
    drop: float
    threshold: float
    detected: bool
    labelled_rows: int
    # The metrics of the yes/no decision at the model's threshold, at training and now: they
    # can move while the ranking (ROC AUC) holds, and a reader should see that they did.
    at_threshold: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class DataQuality:
    reference_rows: int
    current_rows: int
    sampled_rows: int
    rejected_rows: int
    missing_rates: dict[str, float] = field(default_factory=dict)
    newly_missing: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class DriftResult:
    model: str
    model_version: int | None
    reference: str
    current: str
    drift_detected: bool
    verdict: str
    reasons: list[str]
    drift_share: float
    drift_score: float
    n_features: int
    n_drifted_features: int
    drifted_features: list[str]
    feature_alpha: float
    per_column_threshold: float
    drift_share_threshold: float
    features: list[FeatureDrift]
    prediction_drift: PredictionDrift | None
    concept_drift: ConceptDrift | None
    data_quality: DataQuality
    evidently_version: str
    created_at: str
    mlflow_run_id: str | None = None
    # What drift alone retrains on (thresholds.drift_trigger): "dataset" or "feature".
    drift_trigger: str = "dataset"
    # The champion's ROC AUC estimated from its scores (no labels needed), with its band.
    estimated_performance: EstimatedPerformance | None = None


def detect_drift(
    config: ModelConfig,
    reference: Batch,
    current: Batch,
    reference_name: str,
    current_name: str,
    model: Any = None,
    model_version: int | None = None,
    reference_metrics: dict[str, float] | None = None,
    seed: int = 0,
    estimator: PerformanceEstimator | None = None,
    reference_scores: tuple[np.ndarray, str] | None = None,
    snapshot_wanted: bool = True,
) -> tuple[DriftResult, Any]:
    """The drift result and the Evidently snapshot (for its HTML).

    With a fitted ``estimator`` (and the ``model``) the champion's performance on the current
    rows is estimated from its scores too: the only performance signal a month without labels
    has. Without ``snapshot_wanted`` (the backtest, the benchmarks: no page is written) the
    snapshot is None and each column's test is Evidently's own calculation called directly,
    which gives the same figures without drawing a chart per column (most of a drift check's
    time).
    """
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    _register_homogeneity_test()
    thresholds = config.thresholds
    features = config.features
    column_threshold = per_column_threshold(thresholds, len(features))
    sample_rows = thresholds.drift_sample_rows
    ref = _sample(reference.frame, sample_rows, seed)
    cur = _sample(current.frame, sample_rows, seed + 1)

    # Numbers and categories go through Evidently; text columns through TextDrift (below).
    tabular = [*config.numeric_features, *config.categorical_features]
    # One ValueDrift per column, not DataDriftPreset: the preset's page leads with Evidently's
    # own dataset rule ("Dataset Drift is NOT detected", its share of drifted columns), which is
    # not the verdict's (any column at the family-wise level, the scores or the labels), and
    # rendering its table took 3 s a month here. Each column's widget stays.
    metrics: list[Any] = [
        ValueDrift(
            column=column,
            method=NUMERIC_TEST if column in config.numeric_features else CATEGORICAL_TEST,
            threshold=column_threshold,
        )
        for column in tabular
    ]
    numeric = list(config.numeric_features)
    ref_view, cur_view = ref[tabular].copy(), cur[tabular].copy()
    scores_from = "the reference rows, scored now"
    if model is not None:
        if reference_scores is not None:
            ref_view[SCORE_COLUMN], scores_from = _held_out_column(
                reference_scores, len(ref_view), seed
            )
        else:
            ref_view[SCORE_COLUMN] = model.predict_proba(ref[features])[:, 1]
        cur_view[SCORE_COLUMN] = model.predict_proba(cur[features])[:, 1]
        numeric.append(SCORE_COLUMN)
        metrics.append(
            ValueDrift(
                column=SCORE_COLUMN, method=NUMERIC_TEST, threshold=thresholds.prediction_alpha
            )
        )
    definition = DataDefinition(
        numerical_columns=numeric, categorical_columns=list(config.categorical_features)
    )
    snapshot = None
    scores: dict[str, float] = {}
    drifted: dict[str, bool] = {}
    if metrics:
        current_data = Dataset.from_pandas(cur_view, data_definition=definition)
        reference_data = Dataset.from_pandas(ref_view, data_definition=definition)
        if snapshot_wanted:
            report = Report(metrics=metrics, include_tests=True)
            snapshot = report.run(current_data, reference_data)
            scores, drifted = _column_results(snapshot.dict())
        else:
            scores, drifted = _column_tests(metrics, current_data, reference_data)

    feature_results = []
    for name in tabular:
        kind = config.column(name).kind
        size = effect_size(ref[name], cur[name], kind)
        feature_results.append(
            FeatureDrift(
                name=name,
                kind=kind,
                test=NUMERIC_TEST if kind == "numeric" else CATEGORICAL_TEST,
                score=scores[name],
                threshold=column_threshold,
                drifted=drifted[name],
                psi=round(size.psi, 4),
                psi_band=size.band,
                effect_name=size.name,
                effect=round(size.value, 4),
            )
        )
    for name in config.text_features:
        found = TextDrift(seed=seed).fit(ref[name]).test(cur[name])
        feature_results.append(
            FeatureDrift(
                name=name,
                kind="text",
                test=TEXT_TEST,
                score=round(found.p_value, 6),
                threshold=column_threshold,
                drifted=found.p_value < column_threshold,
                text=found,
                effect_name="jensen-shannon (tokens)",
                effect=found.js_divergence,
            )
        )
    # Drifted first, most significant first, then the largest shifts: the order a reviewer
    # reads them in.
    feature_results.sort(key=lambda f: (not f.drifted, f.score, -(f.psi or 0.0)))
    drifted_names = [f.name for f in feature_results if f.drifted]

    prediction = None
    if model is not None:
        prediction = PredictionDrift(
            detected=drifted[SCORE_COLUMN],
            score=round(scores[SCORE_COLUMN], 6),
            test=NUMERIC_TEST,
            threshold=thresholds.prediction_alpha,
            reference_mean=round(float(ref_view[SCORE_COLUMN].mean()), 4),
            current_mean=round(float(cur_view[SCORE_COLUMN].mean()), 4),
            reference_scores=scores_from,
        )
    concept = _concept_drift(config, model, current, reference_metrics)
    estimated = None
    if model is not None and estimator is not None:
        estimated = estimator.estimate(
            cur_view[SCORE_COLUMN].to_numpy(),
            "roc_auc",
            (reference_metrics or {}).get("test_roc_auc"),
        )

    verdict: Decision = drift_verdict(
        len(features),
        drifted_names,
        thresholds,
        prediction.detected if prediction else None,
        concept.drop if concept else None,
    )
    share = len(drifted_names) / len(features)
    result = DriftResult(
        model=config.name,
        model_version=model_version,
        reference=reference_name,
        current=current_name,
        drift_detected=verdict.positive,
        verdict=verdict.outcome,
        reasons=verdict.reasons,
        drift_share=round(share, 4),
        drift_score=round(share, 4),
        n_features=len(features),
        n_drifted_features=len(drifted_names),
        drifted_features=drifted_names,
        feature_alpha=thresholds.feature_alpha,
        per_column_threshold=column_threshold,
        drift_share_threshold=thresholds.drift_share,
        drift_trigger=thresholds.drift_trigger,
        features=feature_results,
        prediction_drift=prediction,
        concept_drift=concept,
        data_quality=_quality(config, reference, current, len(cur)),
        evidently_version=evidently.__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        estimated_performance=estimated,
    )
    return result, snapshot


def _held_out_column(
    scores: tuple[np.ndarray, str], rows: int, seed: int
) -> tuple[np.ndarray, str]:
    """Held-out scores as a column of the reference view: ``rows`` long, blank past the scores.

    Evidently's tests leave blanks out, so the score test compares the held-out scores (at most
    ``rows`` of them, sampled) with the current ones while the features keep every reference row.
    """
    import numpy as np

    values, name = np.asarray(scores[0], dtype="float64"), scores[1]
    if len(values) > rows:
        values = np.random.default_rng(seed).choice(values, size=rows, replace=False)
    column = np.full(rows, np.nan)
    column[: len(values)] = values
    return column, f"{name} ({len(values)} rows)"


_registered = False


def _register_homogeneity_test() -> None:
    """Add the two-sample chi-square test of homogeneity to Evidently's stattest registry."""
    global _registered
    if _registered:
        return
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType
    from scipy.stats import chi2_contingency

    def homogeneity(
        reference: pd.Series, current: pd.Series, feature_type: Any, threshold: float
    ) -> tuple[float, bool]:
        table = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0)
        if len(table) < 2:
            return 1.0, False
        p_value = float(chi2_contingency(table.to_numpy().T, correction=False)[1])
        return p_value, p_value < threshold

    register_stattest(
        StatTest(
            name=CATEGORICAL_TEST,
            display_name="chi-square homogeneity p_value",
            allowed_feature_types=[ColumnType.Categorical],
        ),
        default_impl=homogeneity,
    )
    _registered = True


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed)


def _column_results(snapshot: dict[str, Any]) -> tuple[dict[str, float], dict[str, bool]]:
    """Per column: the test's p-value (from the metrics) and Evidently's drifted flag (tests)."""
    scores: dict[str, float] = {}
    drifted: dict[str, bool] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
    for test in snapshot.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift"):
            drifted[params["column"]] = test.get("status") == "FAIL"
    return scores, drifted


def _column_tests(
    metrics: list[Any], current: Any, reference: Any
) -> tuple[dict[str, float], dict[str, bool]]:
    """What each ``ValueDrift`` of ``metrics`` finds, from the calculation its ``Report`` makes
    (``ValueDriftCalculation.calculate`` in Evidently 0.7), without drawing its widget."""
    from evidently.legacy.calculations.data_drift import get_one_column_drift
    from evidently.legacy.core import ColumnType
    from evidently.legacy.metric_results import DatasetColumns, DatasetUtilityColumns
    from evidently.legacy.options.data_drift import DataDriftOptions

    scores: dict[str, float] = {}
    drifted: dict[str, bool] = {}
    current_frame, reference_frame = current.as_dataframe(), reference.as_dataframe()
    for metric in metrics:
        column = metric.column
        kind = current.column(column).type
        found = get_one_column_drift(
            current_data=current_frame,
            reference_data=reference_frame,
            column_name=column,
            options=DataDriftOptions(
                all_features_stattest=metric.method,
                all_features_threshold=metric.threshold,
                nbinsx=metric.nbinsx,
            ),
            dataset_columns=DatasetColumns(
                utility_columns=DatasetUtilityColumns(
                    date=None, id=None, target=None, prediction=None
                ),
                target_type=None,
                task=None,
                num_feature_names=[column] if kind == ColumnType.Numerical else [],
                cat_feature_names=[column] if kind == ColumnType.Categorical else [],
                text_feature_names=[column] if kind == ColumnType.Text else [],
                datetime_feature_names=[column] if kind == ColumnType.Datetime else [],
                target_names=None,
            ),
            column_type=kind,
            agg_data=True,
        )
        scores[column] = float(found.drift_score)
        drifted[column] = bool(found.drift_detected)
    return scores, drifted


def _concept_drift(
    config: ModelConfig,
    model: Any,
    current: Batch,
    reference_metrics: dict[str, float] | None,
) -> ConceptDrift | None:
    if model is None or not current.has_labels or not reference_metrics:
        return None
    reference_value = reference_metrics.get(f"test_{config.primary_metric}")
    features, labels = labelled_rows(current.frame, config)
    if reference_value is None or len(labels) < _MIN_LABELLED_FOR_CONCEPT or labels.min() == 1:
        return None
    if labels.max() == 0:
        return None
    measured = evaluate(model, features, labels, config.decision_threshold)
    now = measured[config.primary_metric]
    drop = reference_value - now
    at_threshold = {
        name: {"reference": round(reference_metrics[f"test_{name}"], 4), "current": round(value, 4)}
        for name, value in measured.items()
        if name in _THRESHOLD_METRICS and f"test_{name}" in reference_metrics
    }
    return ConceptDrift(
        metric=config.primary_metric,
        reference=round(reference_value, 4),
        current=round(now, 4),
        drop=round(drop, 4),
        threshold=config.thresholds.max_metric_drop,
        detected=drop > config.thresholds.max_metric_drop,
        labelled_rows=len(labels),
        at_threshold=at_threshold,
    )


def _quality(config: ModelConfig, reference: Batch, current: Batch, sampled: int) -> DataQuality:
    features = config.features
    now, before = current.missing_rates, reference.missing_rates
    return DataQuality(
        reference_rows=reference.rows,
        current_rows=current.rows,
        sampled_rows=sampled,
        rejected_rows=current.rejected_rows,
        missing_rates={k: round(now[k], 4) for k in features if now.get(k, 0.0) > 0},
        newly_missing=[k for k in features if now.get(k, 0.0) > 0 and before.get(k, 0.0) == 0],
        extra_columns=current.extra_columns,
    )
