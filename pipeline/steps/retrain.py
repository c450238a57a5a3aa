"""`pipeline retrain`: asks the policy whether to retrain, trains a challenger, compares it.

The challenger learns from the champion's reference data plus recent labelled rows, and the
two are compared on recent rows neither learned from, so "better" means better on the same
recent data: half of this batch's labels when it has them; otherwise (labels arrive late) the
matured months the champion has not learned from, compared on the newest of them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHAMPION, TRAINING_DATA_TAG, ModelVersionInfo, Registry
from pipeline.errors import DataError, RegistryError
from pipeline.model.data import read_batch
from pipeline.model.labels import LABELS_FILE, PERFORMANCE_FILE, id_column, id_keys
from pipeline.model.periods import is_month, months_between
from pipeline.model.predict import SUMMARY_FILE
from pipeline.model.schema import ValidatedBatch, validate_batch
from pipeline.model.train import train
from pipeline.monitoring.drift import DRIFT_FILE
from pipeline.monitoring.fairness import RECENT_FAIRNESS_ARTIFACT, model_fairness
from pipeline.monitoring.importance import STABILITY_ARTIFACT, compare_importance
from pipeline.monitoring.performance import evaluate, labelled_rows
from pipeline.monitoring.policy import (
    Decision,
    drift_asks_retrain,
    drift_note,
    fairness_gates,
    promotion_decision,
    retrain_decision,
)
from pipeline.reporting.cards import CARD_FILE, gather_card_facts
from pipeline.reporting.operations import record_seconds
from pipeline.reporting.report import text_only_facts
from pipeline.results import (
    read_json,
    read_json_if_exists,
    set_step_outputs,
    to_jsonable,
    write_json_atomic,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pipeline")

RETRAIN_FILE = "retrain.json"
_MIN_HOLDOUT_LABELS = 40


@dataclass
class Comparison:
    evaluated_on: str
    rows: int
    challenger: dict[str, float]
    champion: dict[str, float] | None


@dataclass
class RetrainResult:
    model: str
    retrained: bool
    decision: str
    reasons: list[str]
    trigger: list[str]
    champion_version: int | None
    challenger_version: int | None = None
    challenger_run_id: str | None = None
    estimator: str | None = None
    candidates: dict[str, float] = field(default_factory=dict)
    training_rows: int = 0
    comparison: Comparison | None = None
    # Both models on the comparison rows: fairness per side ("challenger", "champion") and the
    # permutation-importance stability between them.
    fairness: dict[str, Any] = field(default_factory=dict)
    importance: dict[str, Any] | None = None
    created_at: str = ""
    batch_digest: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetrainResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("comparison"):
            values["comparison"] = Comparison(**values["comparison"])
        return cls(**values)


LEARNED_PERIODS_TAG = "driftgate.learned_periods"  # matured periods a version learned from


@dataclass
class MaturedPeriod:
    """A period whose labels arrived; its rows are read only when a challenger learns them."""

    period: str
    folder: Path
    batch: Path  # the batch file the period scored
    performance: dict[str, Any]

    @property
    def rows(self) -> int:
        """Its labelled rows (``performance.json``): all the policy needs to know."""
        return int(self.performance.get("labelled_rows", 0))

    def frame(self, config: ModelConfig) -> pd.DataFrame:
        """The period's validated rows that have a late label, with the label set."""
        import pandas as pd

        batch = validate_batch(read_batch(self.batch), config, str(self.batch))
        key = id_column(config)
        labels = pd.read_parquet(self.folder / LABELS_FILE)
        by_id = dict(zip(labels[key].astype(str), labels[config.target], strict=True))
        frame = batch.frame.copy()
        frame[config.target] = id_keys(frame[key]).map(by_id)
        frame = frame[frame[config.target].notna()].copy()
        frame["__label__"] = (frame[config.target] == config.positive_class).astype("float64")
        return frame


@dataclass
class LabelledHistory:
    """The matured periods within the training window, oldest first, as the champion sees them."""

    periods: list[MaturedPeriod] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)  # the champion learned from these already

    @property
    def new_rows(self) -> int:
        """Labelled rows the champion has not learned from."""
        return sum(p.rows for p in self.periods if p.period not in self.learned)


def labelled_history(
    settings: Settings, config: ModelConfig, period: str, champion: ModelVersionInfo | None
) -> LabelledHistory:
    """Every period before ``period`` (within ``training_window_months``) with labels in."""
    root = settings.path(settings.output_dir) / config.name
    learned = champion.run_tags.get(LEARNED_PERIODS_TAG, "") if champion else ""
    history = LabelledHistory(learned=[p for p in learned.split(",") if p])
    if not is_month(period) or not root.is_dir():
        return history
    for folder in sorted(root.iterdir()):
        if not (folder / LABELS_FILE).exists() or not is_month(folder.name):
            continue
        back = months_between(folder.name, period)
        if not 0 < back <= config.training_window_months:
            continue
        # Relative to the project (a state restored in another checkout), or absolute.
        source = settings.path(str(read_json(folder / SUMMARY_FILE).get("source", "")))
        if not source.is_file():
            log.warning("the batch of %s (%s) is gone: its labels cannot be used", folder, source)
            continue
        performance = read_json(folder / PERFORMANCE_FILE)
        history.periods.append(MaturedPeriod(folder.name, folder, source, performance))
    return history


def should_retrain(
    champion: ModelVersionInfo | None,
    config: ModelConfig,
    drift: dict[str, Any],
    labelled_rows: int,
    force: bool,
    now: datetime,
    history: LabelledHistory | None = None,
) -> Decision:
    """The retraining policy applied to a drift result (``drift.json``) and the champion's age.

    Labelled rows are this batch's plus the matured periods' the champion has not learned from;
    the newest matured period's realized ROC AUC (if the champion scored it) is a realized drop.
    The drift step calls it too, so the workflow skips the retrain job when it would do nothing.
    """
    age_days = None
    if champion is not None:
        age_days = (now - datetime.fromisoformat(champion.created_at)).total_seconds() / 86400
    concept = bool((drift.get("concept_drift") or {}).get("detected"))
    estimated = (drift.get("estimated_performance") or {}).get("drop")
    matured = None
    if history and history.periods and champion is not None:
        latest = history.periods[-1]
        realized = (latest.performance.get("metrics") or {}).get("roc_auc")
        trained = champion.metrics.get("test_roc_auc")
        scored_by = latest.performance.get("model_version")
        if realized is not None and trained is not None and scored_by == champion.version:
            matured = (latest.period, round(float(trained) - float(realized), 4))
    detected, share = bool(drift.get("drift_detected")), float(drift.get("drift_share", 0.0))
    drifted = drift_asks_retrain(detected, share, config.thresholds)
    return retrain_decision(
        drifted,
        concept,
        labelled_rows + (history.new_rows if history else 0),
        age_days,
        force,
        config.thresholds,
        estimated_drop=None if estimated is None else float(estimated),
        matured_drop=matured,
        drift_note=drift_note(detected, share, config.thresholds),
    )


def run_retrain(
    registry: Registry,
    config: ModelConfig,
    current: ValidatedBatch,
    drift: dict[str, Any],
    out_file: Path,
    force: bool = False,
    seed: int = 0,
    period: str = "",
    batch_digest: str = "",
    history: LabelledHistory | None = None,
) -> RetrainResult:
    """Decide, maybe train, compare; write ``retrain.json`` and tag the challenger in MLflow.

    With labels in the batch, the challenger learns from half of them and both models are
    compared on the other half. Without (labels arrive late), it learns from the matured
    periods the champion has not seen and both are compared on the newest matured period.
    """
    now = datetime.now(timezone.utc)
    champion = registry.by_alias(CHAMPION)
    decision = should_retrain(champion, config, drift, current.labelled_rows, force, now, history)
    result = RetrainResult(
        model=config.name,
        retrained=False,
        decision="skip",
        reasons=decision.reasons,
        trigger=decision.reasons,
        champion_version=champion.version if champion else None,
        created_at=now.isoformat(timespec="seconds"),
        batch_digest=batch_digest,
    )
    if not decision.positive:
        write_json_atomic(out_file, result)
        return result

    reference = None
    if champion is not None:
        raw = registry.load_reference(champion)
        reference = validate_batch(raw, config, f"reference of version {champion.version}").frame
    frame = current.frame
    recent = frame[frame["__label__"].notna()] if current.has_labels else frame.iloc[0:0]
    learned = list(history.learned) if history else []
    if len(recent) < 2 * _MIN_HOLDOUT_LABELS and history and history.periods:
        training, holdout, evaluated_on, added = _split_history(config, history, reference, seed)
        learned += [name for name in added if name not in learned]
    else:
        training, holdout, evaluated_on = _split_recent(recent, reference, seed)
        rows = len(training) - (0 if reference is None else len(reference))
        added = {period or "this batch": rows}
    outcome = train(config, training, seed)
    trigger = "; ".join(decision.reasons)
    # The card's "training data" names every period the rows came from, oldest first.
    sources = [champion.run_tags.get(TRAINING_DATA_TAG, "")] if champion else []
    sources += [f"{name}: {rows} labelled rows" for name, rows in added.items()]
    tags = {TRAINING_DATA_TAG: "; ".join(s for s in sources if s)}
    if learned:
        tags[LEARNED_PERIODS_TAG] = ",".join(learned)
    if period:
        tags["driftgate.period"] = period
    info = registry.log_training(outcome, training, reason=trigger, tags=tags)

    features, labels = labelled_rows(holdout, config)
    challenger_metrics = evaluate(outcome.model, features, labels, config.decision_threshold)
    fairness = {"challenger": model_fairness(outcome.model, holdout, labels, config, evaluated_on)}
    champion_metrics, champion_model = None, None
    if champion is not None:
        champion_model = registry.load_model(champion)
        champion_metrics = evaluate(champion_model, features, labels, config.decision_threshold)
        fairness["champion"] = model_fairness(champion_model, holdout, labels, config, evaluated_on)
    importance: Any = None
    if not config.text_only:
        importance = compare_importance(
            champion_model,
            outcome.model,
            features,
            labels,
            evaluated_on,
            champion.version if champion else None,
            info.version,
            seed,
        )
    gate = fairness_gates(
        fairness["challenger"].metrics(), config.fairness, config.thresholds, "challenger"
    )
    promotion = promotion_decision(
        challenger_metrics, champion_metrics, config.thresholds, config.primary_metric, gate
    )
    registry.add_to_run(
        info.run_id,
        metrics={f"recent_{k}": v for k, v in fairness["challenger"].metrics().items()},
        documents={
            STABILITY_ARTIFACT: importance or {},
            RECENT_FAIRNESS_ARTIFACT: fairness,
        },
    )
    registry.tag_version(info.version, "driftgate.decision", promotion.outcome)
    registry.tag_version(info.version, "driftgate.decision_reasons", " | ".join(promotion.reasons))
    # "promote" here only proposes: the promotion itself is the merged PR's, recorded then.
    # Its comparison with the champion, the deciding reason, comes last; the record leads with it.
    if promotion.outcome == "promote":
        verdict, reasons = "propose", promotion.reasons[-1:] + promotion.reasons[:-1]
    else:
        verdict, reasons = promotion.outcome, promotion.reasons
    registry.record(verdict, reasons, f"retrain {period}".strip(), version=info.version)
    result.retrained = True
    result.decision = promotion.outcome
    result.reasons = promotion.reasons
    result.challenger_version = info.version
    result.challenger_run_id = info.run_id
    result.estimator = outcome.estimator_name
    result.candidates = {c.name: round(c.cv_score, 4) for c in outcome.candidates}
    result.training_rows = len(training)
    result.comparison = Comparison(
        evaluated_on=evaluated_on,
        rows=len(labels),
        challenger=_rounded(challenger_metrics),
        champion=_rounded(champion_metrics) if champion_metrics else None,
    )
    result.fairness = to_jsonable(fairness)
    result.importance = to_jsonable(importance)
    if config.text_only:
        result.fairness, result.importance = text_only_facts()
    write_json_atomic(out_file, result)
    return result


def _split_recent(
    recent: pd.DataFrame, reference: pd.DataFrame | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Training rows (reference plus half the recent labels) and the rows to compare on."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    labels = recent["__label__"]
    if len(recent) >= 2 * _MIN_HOLDOUT_LABELS and labels.nunique() == 2:
        learn, holdout = train_test_split(recent, test_size=0.5, stratify=labels, random_state=seed)
        training = pd.concat([f for f in (reference, learn) if f is not None], ignore_index=True)
        return training, holdout, f"held-out half of this period's labelled rows ({len(holdout)})"
    if reference is None:
        raise DataError("no champion and too few labelled rows to train and compare a model")
    # Forced retraining without fresh labels: compare on a held-out slice of the reference.
    learn, holdout = train_test_split(
        reference, test_size=0.2, stratify=reference["__label__"], random_state=seed
    )
    return learn, holdout, f"held-out 20% of the reference data ({len(holdout)} rows)"


def _split_history(
    config: ModelConfig, history: LabelledHistory, reference: pd.DataFrame | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, int]]:
    """Training rows (reference plus the unseen matured periods) and the newest period's rows.

    With a single matured period, half of it is learned from and half compared on.
    """
    import pandas as pd

    newest = history.periods[-1]
    newest_frame = newest.frame(config)
    earlier = {
        p.period: p.frame(config) for p in history.periods[:-1] if p.period not in history.learned
    }
    if not earlier:
        training, holdout, _ = _split_recent(newest_frame, reference, seed)
        where = f"held-out half of {newest.period}'s late-labelled rows ({len(holdout)})"
        rows = len(training) - (0 if reference is None else len(reference))
        return training, holdout, where, {newest.period: rows}
    frames = [f for f in (reference, *earlier.values()) if f is not None]
    training = pd.concat(frames, ignore_index=True)
    where = f"{newest.period}'s late-labelled rows ({len(newest_frame)}), learned by neither model"
    return training, newest_frame, where, {name: len(f) for name, f in earlier.items()}


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}


def retrain_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    force: bool = False,
) -> RetrainResult:
    started = time.perf_counter()

    drift = read_json_if_exists(out_dir / DRIFT_FILE)
    if not drift and not force:
        raise RegistryError(f"{out_dir / DRIFT_FILE} does not exist: run `pipeline drift` first")
    registry = Registry(settings, config)
    digest = file_digest(current)
    result = None if force else _earlier_challenger(registry, out_dir / RETRAIN_FILE, digest)
    if result is None:
        batch = validate_batch(read_batch(current), config, str(current))
        champion = registry.by_alias(CHAMPION)
        result = run_retrain(
            registry,
            config,
            batch,
            drift,
            out_dir / RETRAIN_FILE,
            force=force,
            period=out_dir.name,
            batch_digest=digest,
            history=labelled_history(settings, config, out_dir.name, champion),
        )
        if drift.get("mlflow_run_id"):  # the retrain verdict joins the period's drift verdict
            verdict = "retrain" if result.retrained else "skip"
            registry.record(verdict, result.trigger, run_id=str(drift["mlflow_run_id"]))
    if result.decision in ("promote", "refuse") and result.challenger_version:
        # The promotion PR's card is rendered from this file, as the issue is from the others.
        facts = gather_card_facts(registry, config, int(result.challenger_version))
        write_json_atomic(out_dir / CARD_FILE, facts)
    set_step_outputs(
        {
            "retrained": str(result.retrained).lower(),
            "decision": result.decision,
            "challenger_version": result.challenger_version or "",
        }
    )
    record_seconds(out_dir, "retrain", started)
    return result


def _earlier_challenger(registry: Registry, path: Path, digest: str) -> RetrainResult | None:
    """This period's challenger when the same batch was already retrained on (a re-run).

    Re-running a period must not register another version or open another promotion PR.
    """
    if not path.exists():
        return None
    earlier = RetrainResult.from_json(read_json(path))
    if earlier.batch_digest != digest or earlier.challenger_version is None:
        return None
    try:
        registry.version(earlier.challenger_version)
    except RegistryError:
        return None
    log.info(
        "this batch was already retrained on: reusing challenger v%d (--force-retrain to train "
        "again)",
        earlier.challenger_version,
    )
    return earlier


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
