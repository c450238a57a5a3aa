"""Training: several scikit-learn estimators, each tuned by randomized search with stratified CV.

Pure computation: it returns fitted models and metrics; logging to MLflow is ``registry``'s job.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig
from pipeline.errors import ConfigError, DataError
from pipeline.monitoring.fairness import FairnessReport, model_fairness
from pipeline.monitoring.importance import FeatureImportance, permutation_importances
from pipeline.monitoring.performance import evaluate, labelled_rows, positive_scores

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CandidateResult:
    name: str
    cv_score: float
    best_params: dict[str, Any]


@dataclass
class TrainOutcome:
    """The winning candidate, fitted on the training split, with its held-out metrics."""

    estimator_name: str
    best_params: dict[str, Any]
    model: Any
    test_metrics: dict[str, float]
    candidates: list[CandidateResult] = field(default_factory=list)
    train_rows: int = 0
    test_rows: int = 0
    fairness: FairnessReport | None = None
    importance: list[FeatureImportance] = field(default_factory=list)
    # The held-out test split's scores and labels: what performance estimation calibrates on.
    test_scores: list[float] = field(default_factory=list)
    test_labels: list[int] = field(default_factory=list)


# Per-row sample weights ride along in the frame (like ``__label__``): a recency-weighted window
# (``monitoring.windows``) sets them, and every split keeps them with their rows.
WEIGHT_COLUMN = "__weight__"


def _fit_weights(frame: pd.DataFrame) -> dict[str, Any]:
    """The pipeline's fit parameters for the rows' weights, or none when they are unweighted."""
    if WEIGHT_COLUMN not in frame.columns:
        return {}
    return {"estimator__sample_weight": frame[WEIGHT_COLUMN].to_numpy(dtype="float64")}


def _candidate_space(name: str, seed: int) -> tuple[Any, dict[str, Any]]:
    from scipy.stats import loguniform
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    factories: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
        "logistic_regression": lambda: (
            LogisticRegression(max_iter=2000, class_weight="balanced"),
            {"C": loguniform(1e-2, 1e1)},
        ),
        "random_forest": lambda: (
            RandomForestClassifier(random_state=seed, n_jobs=1, class_weight="balanced"),
            {
                "n_estimators": [100, 200],
                "max_depth": [None, 6, 10],
                "min_samples_leaf": [1, 5, 10],
            },
        ),
        "hist_gradient_boosting": lambda: (
            HistGradientBoostingClassifier(
                random_state=seed, class_weight="balanced", early_stopping=True
            ),
            {
                "learning_rate": [0.03, 0.06, 0.1],
                "max_depth": [None, 3, 5],
                "max_iter": [100, 200],
                "l2_regularization": [0.0, 0.1, 1.0],
            },
        ),
    }
    # Text models: TF-IDF (build_model) then a linear model; the SVM's margins are calibrated
    # into probabilities (sigmoid, on internal folds) so scores, thresholds and estimation work.
    factories["tfidf_logistic_regression"] = lambda: (
        LogisticRegression(max_iter=4000, class_weight="balanced"),
        {"C": loguniform(1e-1, 1e2)},
    )
    factories["tfidf_linear_svm"] = lambda: (
        CalibratedClassifierCV(LinearSVC(class_weight="balanced"), cv=3, method="sigmoid"),
        {"estimator__C": loguniform(1e-2, 1e1)},
    )
    if name not in factories:
        raise ConfigError(
            f"unknown candidate estimator '{name}' (available: {', '.join(sorted(factories))})"
        )
    return factories[name]()


def build_model(config: ModelConfig, estimator: Any) -> Any:
    """Preprocessing plus estimator as one sklearn Pipeline, so the registry holds one object."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if isinstance(estimator, HistGradientBoostingClassifier):
        # Histogram boosting bins every numeric column into at most 255 quantile bins anyway.
        # Binning here, on the rows unweighted (as LightGBM does), leaves it nothing to bin:
        # with balanced class weights scikit-learn 1.9 bins by one weighted percentile at a
        # time, 1.2 s of a 1.9 s fit on 8,000 rows here (10x the rest of the fit).
        numeric_steps.append(("bin", _quantile_bins()))
    else:
        numeric_steps.append(("scale", StandardScaler()))
    numeric = Pipeline(numeric_steps)
    categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    parts: list[tuple[str, Any, Any]] = [
        ("numeric", numeric, config.numeric_features),
        ("categorical", categorical, config.categorical_features),
    ]
    for name in config.text_features:
        # A column name, not a list: the vectorizers take one string per row.
        parts.append((f"text_{name}", text_features(), name))
    return Pipeline([("preprocess", ColumnTransformer(parts)), ("estimator", estimator)])


def _quantile_bins() -> Any:
    from sklearn.preprocessing import KBinsDiscretizer

    # 255 bins, the most histogram boosting keeps; ordinal codes, which it splits like numbers.
    # A column with few distinct values gets fewer bins (its duplicate edges are dropped, with
    # a warning the CLI does not show).
    return KBinsDiscretizer(n_bins=255, encode="ordinal", strategy="quantile", subsample=None)


def text_features() -> Any:
    """Words (1-2 grams) and character 2-5 grams within words, TF-IDF weighted, side by side.

    Characters catch what words miss in texting: "fr33", "£1000", "txt", short codes.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    lowercase=True,
                    ngram_range=(1, 2),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=50000,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=100000,
                ),
            ),
        ]
    )


def train(config: ModelConfig, frame: pd.DataFrame, seed: int = 0) -> TrainOutcome:
    """Tune every candidate on a training split, keep the best by CV score, test it held out."""
    from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, train_test_split

    _, labels = labelled_rows(frame, config)
    positives = int(labels.sum())
    if len(labels) < 50 or positives < 10 or len(labels) - positives < 10:
        raise DataError(
            f"training needs at least 50 labelled rows with 10 of each class "
            f"(got {len(labels)} rows, {positives} positive)"
        )
    # Split whole rows: the test rows keep their sensitive attributes for the fairness report.
    train_frame, test_frame = train_test_split(
        frame[frame["__label__"].notna()], test_size=0.2, stratify=labels, random_state=seed
    )
    x_train, y_train = labelled_rows(train_frame, config)
    x_test, y_test = labelled_rows(test_frame, config)
    folds = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=seed)
    results: list[CandidateResult] = []
    best: tuple[float, str, Any, dict[str, Any]] | None = None
    # The preprocessing has no tuned settings: fitted once per fold, not once per fold and
    # setting, and shared by candidates that preprocess alike (the TF-IDF fits were a third of
    # a text model's search). Keyed by scikit-learn on the transformer's settings and the rows.
    with tempfile.TemporaryDirectory(prefix="driftgate-fits-") as fitted_cache:
        for name in config.candidates:
            estimator, space = _candidate_space(name, seed)
            model = build_model(config, estimator).set_params(memory=fitted_cache)
            search = RandomizedSearchCV(
                model,
                {f"estimator__{k}": v for k, v in space.items()},
                n_iter=config.search_iterations,
                scoring=config.primary_metric,
                cv=folds,
                random_state=seed,
                refit=True,
                # None: as many processes as the caller's joblib.parallel_config says (the CLI:
                # PIPELINE_JOBS, every core by default; one in tests and beside other models).
                n_jobs=None,
            )
            search.fit(x_train, y_train, **_fit_weights(train_frame))
            params = {k.removeprefix("estimator__"): v for k, v in search.best_params_.items()}
            score = float(search.best_score_)
            results.append(CandidateResult(name=name, cv_score=score, best_params=params))
            if best is None or score > best[0]:
                # The registry keeps the model, not a path to this run's cache.
                best = (score, name, search.best_estimator_.set_params(memory=None), params)
    assert best is not None  # config validation guarantees at least one candidate
    _, name, model, params = best
    where = f"held-out test split ({len(y_test)} rows)"
    return TrainOutcome(
        estimator_name=name,
        best_params=params,
        model=model,
        test_metrics=evaluate(model, x_test, y_test, config.decision_threshold),
        candidates=results,
        train_rows=len(y_train),
        test_rows=len(y_test),
        fairness=model_fairness(model, test_frame, y_test, config, where),
        # One text input: shuffling "the text" says nothing a reader can act on.
        importance=[] if config.text_only else permutation_importances(model, x_test, y_test, seed),
        test_scores=[float(v) for v in positive_scores(model, x_test)],
        test_labels=[int(v) for v in y_test],
    )


def refit(
    config: ModelConfig, estimator_name: str, params: dict[str, Any], frame: pd.DataFrame, seed: int
) -> TrainOutcome:
    """The same estimator and hyper-parameters, fitted on ``frame`` (no search, no reports).

    What the backtest retrains with: it judges when to retrain, not which estimator, and a
    search per replayed month would take minutes. Tested on a held-out 20% like ``train``.
    """
    from sklearn.model_selection import train_test_split

    labelled = frame[frame["__label__"].notna()]
    _, labels = labelled_rows(labelled, config)
    train_frame, test_frame = train_test_split(
        labelled, test_size=0.2, stratify=labels, random_state=seed
    )
    x_train, y_train = labelled_rows(train_frame, config)
    x_test, y_test = labelled_rows(test_frame, config)
    estimator, _ = _candidate_space(estimator_name, seed)
    model = build_model(config, estimator.set_params(**params))
    model.fit(x_train, y_train, **_fit_weights(train_frame))
    return TrainOutcome(
        estimator_name=estimator_name,
        best_params=params,
        model=model,
        test_metrics=evaluate(model, x_test, y_test, config.decision_threshold),
        train_rows=len(y_train),
        test_rows=len(y_test),
        test_scores=[float(v) for v in positive_scores(model, x_test)],
        test_labels=[int(v) for v in y_test],
    )
