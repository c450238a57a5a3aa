"""`pipeline retrain`: asks the policy whether to retrain, trains a challenger, compares it.

The challenger learns from recent labelled rows (with the champion's reference data, or only
the months since a located change, whichever validates better), and the two are compared on
recent rows neither learned from, with a paired test: "better" means better on the same recent
data, by more than noise. The recent rows are this batch's labels when it has them; otherwise
(labels arrive late) the matured months, the newest of them judging.
"""

from __future__ import annotations

import ast
import logging
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import (
    CHAMPION,
    TRAINING_DATA_TAG,
    DatasetInput,
    ModelVersionInfo,
    Registry,
    read_records,
)
from pipeline.errors import DataError, RegistryError
from pipeline.model.data import file_digest, read_batch
from pipeline.model.labels import LABELS_FILE, PERFORMANCE_FILE, id_column, id_keys
from pipeline.model.periods import is_month, months_between
from pipeline.model.predict import SUMMARY_FILE
from pipeline.model.schema import ValidatedBatch, validate_batch
from pipeline.model.train import train
from pipeline.model.trainingsets import (
    MIN_VALIDATION_ROWS,
    LabelledMonth,
    WindowChoice,
    choose_training_rows,
    split_validation,
    too_few,
)
from pipeline.monitoring.comparison import (
    MIN_ROWS_PER_CLASS,
    PAIRED_ARTIFACT,
    PairedDifference,
    paired_difference,
)
from pipeline.monitoring.drift import DRIFT_FILE
from pipeline.monitoring.fairness import RECENT_FAIRNESS_ARTIFACT, model_fairness
from pipeline.monitoring.importance import STABILITY_ARTIFACT, compare_importance
from pipeline.monitoring.performance import (
    labelled_rows,
    positive_scores,
    rounded,
    score_metrics,
)
from pipeline.monitoring.policy import (
    Decision,
    drift_asks_retrain,
    drift_note,
    fairness_gates,
    promotion_decision,
    retrain_decision,
)
from pipeline.monitoring.windows import SINCE_CHANGE, MonthEvidence, change_start
from pipeline.reporting.cards import CARD_FILE, TRAINING_WINDOW_TAG, gather_card_facts
from pipeline.reporting.operations import record_seconds
from pipeline.reporting.report import text_only_facts
from pipeline.results import (
    read_json,
    read_json_if_exists,
    set_step_outputs,
    to_jsonable,
    write_json_atomic,
)
from pipeline.steps.shadow import ShadowEvidence, judge_shadow, shadow_months

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pipeline")

RETRAIN_FILE = "retrain.json"


@dataclass
class Comparison:
    evaluated_on: str
    rows: int
    challenger: dict[str, float]
    champion: dict[str, float] | None
    # The paired test of the primary metric's difference on these rows (``PairedDifference``).
    paired: dict[str, Any] | None = None


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
    # How the training rows were chosen: the change located, each window tried (``WindowChoice``).
    windows: dict[str, Any] | None = None
    # The kept challenger's pooled evidence from the months it shadowed (``ShadowEvidence``).
    shadow: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetrainResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("comparison"):
            values["comparison"] = Comparison(**values["comparison"])
        return cls(**values)


BATCH_DIGEST_TAG = "driftgate.batch_digest"  # the batch a retrain run trained for
ABANDONED = "abandoned"  # the verdict on a version a killed run registered
LEARNED_PERIODS_TAG = "driftgate.learned_periods"  # matured periods a version learned from
# A version that learned only the months since a change: where it began, and how many rows the
# model it replaced had learned (it retrains as months mature until it has as many).
CHANGE_PERIOD_TAG = "driftgate.change_period"
ROWS_WANTED_TAG = "driftgate.rows_wanted"


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
    # With this month's labels in, the realized metric decides: the estimate, which scores
    # alone give, is then only a figure to check (its error), not a reason to retrain.
    measured = drift.get("concept_drift") is not None
    estimated = None if measured else (drift.get("estimated_performance") or {}).get("drop")
    matured = None
    if history and history.periods and champion is not None:
        latest = history.periods[-1]
        realized = (latest.performance.get("metrics") or {}).get("roc_auc")
        trained = champion.metrics.get("test_roc_auc")
        scored_by = latest.performance.get("model_version")
        if realized is not None and trained is not None and scored_by == champion.version:
            matured = (latest.period, round(float(trained) - float(realized), 4))
    catch_up = None
    if champion is not None and champion.run_tags.get(ROWS_WANTED_TAG):
        learned_rows = sum(int(champion.params.get(k, 0) or 0) for k in ("train_rows", "test_rows"))
        catch_up = (
            champion.run_tags.get(CHANGE_PERIOD_TAG, "?"),
            learned_rows,
            int(champion.run_tags[ROWS_WANTED_TAG]),
        )
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
        catch_up=catch_up,
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

    The labelled months are the matured periods within the training window and, when it has
    labels, this batch. The newest of them judges: whole, or its later half when it is the only
    new month or the only one since the change (``model.trainingsets``). Where the evidence
    locates a change, the challenger's rows are the best of the candidate windows on those
    validation rows; the challenger is then compared with the champion on the same rows, with
    the paired test the promotion gate reads.
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
    history = history or LabelledHistory()
    shadow = registry.shadow(champion)
    if champion is not None and shadow is not None:
        labelled = current.frame[current.frame["__label__"].notna()] if current.has_labels else None
        shadowed = shadow_months(
            config,
            [p.folder for p in history.periods],
            champion,
            shadow,
            (out_file.parent, labelled) if labelled is not None and len(labelled) else None,
        )
        judged = judge_shadow(config, champion, shadow, shadowed)
        result.shadow = to_jsonable(judged)
        if judged.decision == "promote":
            return _propose_shadow(registry, result, judged, shadow, out_file, period)
    if not decision.positive:
        write_json_atomic(out_file, result)
        return result

    reference = None
    if champion is not None:
        raw = registry.load_reference(champion)
        reference = validate_batch(raw, config, f"reference of version {champion.version}").frame
    frame = current.frame
    recent = frame[frame["__label__"].notna()] if current.has_labels else frame.iloc[0:0]
    months = [
        LabelledMonth(p.period, p.frame(config), p.period in history.learned)
        for p in history.periods
    ]
    with_current = len(recent) >= 2 * MIN_VALIDATION_ROWS
    if with_current:
        months.append(LabelledMonth(period or "this batch", recent))
    if not any(not m.learned for m in months):
        # Forced without fresh labels: the reference alone, compared on a slice of it.
        training, holdout, evaluated_on = _split_reference(reference, seed)
        plan = _Plan(training, holdout, evaluated_on, {}, list(history.learned))
        return _train_and_compare(
            registry, config, result, decision, out_file, champion, plan, seed, period
        )
    evidence = _month_evidence(registry, config, months, drift if with_current else None)
    change = change_start(evidence, config.thresholds)
    split = split_validation(months, change)
    problem = too_few(split.validation, MIN_VALIDATION_ROWS, MIN_ROWS_PER_CLASS)
    if problem:
        # Bad input is said, not crashed on: the champion keeps serving.
        result.reasons = decision.reasons + [
            f"but {split.rows_named} are too few to compare a challenger with the champion "
            f"({problem}), so none was trained; the champion keeps serving"
        ]
        write_json_atomic(out_file, result)
        return result
    estimator = _champion_estimator(config, champion)
    # The window's fit is left: the challenger is searched for afresh on the chosen rows.
    training, choice, _ = choose_training_rows(config, reference, split, change, estimator, seed)
    window = next(c for c in choice.candidates if c["window"] == choice.chosen)
    learned_before = list(history.learned)

    def named(name: str) -> str:  # the newest month's earlier half, when it was split in time
        return f"{name} (earlier half)" if split.split_in_time and name == split.newest else name

    # With the reference, the months it already holds are not added again; without it (the
    # months since the change), every month in the window is, and the months before the change
    # were weighed and set aside: none of them counts as new.
    taken = [
        m
        for m in split.training
        if m.name in window["periods"] and not (window["with_reference"] and m.learned)
    ]
    added = {named(m.name): len(m.frame) for m in taken}
    considered = taken if window["with_reference"] else split.training
    learned = learned_before + [m.name for m in considered if m.name not in learned_before]
    plan = _Plan(
        training,
        split.validation,
        split.evaluated_on,
        added,
        learned,
        choice,
        keep_lineage=bool(window["with_reference"]),
        reference_rows=0 if reference is None else len(reference),
    )
    return _train_and_compare(
        registry, config, result, decision, out_file, champion, plan, seed, period
    )


@dataclass
class _Plan:
    """What the challenger learns from and is judged on, and what its tags record."""

    training: pd.DataFrame
    holdout: pd.DataFrame
    evaluated_on: str
    added: dict[str, int]  # the months (and their rows) it learns beside the reference
    learned: list[str]  # every matured month it counts as learned (LEARNED_PERIODS_TAG)
    choice: WindowChoice | None = None
    keep_lineage: bool = True  # its reference includes the champion's (the card's sources)
    reference_rows: int = 0  # the champion's training rows: what a catch-up aims for


def _train_and_compare(
    registry: Registry,
    config: ModelConfig,
    result: RetrainResult,
    decision: Decision,
    out_file: Path,
    champion: ModelVersionInfo | None,
    plan: _Plan,
    seed: int,
    period: str,
) -> RetrainResult:
    """Train the challenger on the plan's rows, compare it with the champion on its holdout."""
    training, holdout, evaluated_on = plan.training, plan.holdout, plan.evaluated_on
    added, learned, choice = plan.added, plan.learned, plan.choice
    outcome = train(config, training, seed)
    trigger = "; ".join(decision.reasons)
    # The card's "training data" names every period the rows came from, oldest first.
    sources = (
        [champion.run_tags.get(TRAINING_DATA_TAG, "")] if champion and plan.keep_lineage else []
    )
    sources += [f"{name}: {rows} labelled rows" for name, rows in added.items()]
    if not added and champion is not None:
        sources.append(f"held-out 80% of v{champion.version}'s training data")
    tags = {TRAINING_DATA_TAG: "; ".join(s for s in sources if s)}
    if learned:
        tags[LEARNED_PERIODS_TAG] = ",".join(learned)
    if period:
        tags["driftgate.period"] = period
    if result.batch_digest:
        tags[BATCH_DIGEST_TAG] = result.batch_digest
    if choice is not None:
        chosen = next(c for c in choice.candidates if c["window"] == choice.chosen)
        tags[TRAINING_WINDOW_TAG] = f"{choice.chosen}, {chosen['description']}"
        inherited = champion.run_tags if champion is not None else {}
        if choice.chosen == SINCE_CHANGE and choice.change_period and champion is not None:
            wanted = inherited.get(ROWS_WANTED_TAG) or str(plan.reference_rows)
            tags[CHANGE_PERIOD_TAG], tags[ROWS_WANTED_TAG] = choice.change_period, wanted
        elif inherited.get(ROWS_WANTED_TAG) and chosen["with_reference"]:
            # Its reference is the since-change rows: it is still catching up.
            tags[CHANGE_PERIOD_TAG] = inherited.get(CHANGE_PERIOD_TAG, "")
            tags[ROWS_WANTED_TAG] = inherited[ROWS_WANTED_TAG]
    evaluation = DatasetInput(
        name=f"{config.name}-{period or 'holdout'}-comparison",
        context="evaluation",
        description=evaluated_on,
        frame=holdout,
    )
    info = registry.log_training(outcome, training, trigger, tags=tags, evaluation=evaluation)

    features, labels = labelled_rows(holdout, config)
    threshold = config.decision_threshold
    challenger_scores = positive_scores(outcome.model, features)
    challenger_metrics = score_metrics(challenger_scores, labels, threshold)
    fairness = {"challenger": model_fairness(outcome.model, holdout, labels, config, evaluated_on)}
    champion_metrics, champion_model, paired = None, None, None
    if champion is not None:
        champion_model = registry.load_model(champion)
        champion_scores = positive_scores(champion_model, features)
        champion_metrics = score_metrics(champion_scores, labels, threshold)
        fairness["champion"] = model_fairness(champion_model, holdout, labels, config, evaluated_on)
        try:
            paired = paired_difference(
                labels, challenger_scores, champion_scores, config.primary_metric, threshold
            )
        except DataError as error:
            log.warning("no paired comparison: %s", error)
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
        challenger_metrics,
        champion_metrics,
        config.thresholds,
        config.primary_metric,
        gate,
        paired=paired,
    )
    registry.add_to_run(
        info.run_id,
        metrics={
            **{f"recent_{k}": v for k, v in fairness["challenger"].metrics().items()},
            **(_paired_metrics(paired) if paired else {}),
        },
        documents={
            STABILITY_ARTIFACT: importance or {},
            RECENT_FAIRNESS_ARTIFACT: fairness,
            **({PAIRED_ARTIFACT: paired} if paired else {}),
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
        challenger=rounded(challenger_metrics),
        champion=rounded(champion_metrics) if champion_metrics else None,
        paired=to_jsonable(paired) if paired else None,
    )
    result.windows = to_jsonable(choice) if choice else None
    result.fairness = to_jsonable(fairness)
    result.importance = to_jsonable(importance)
    if config.text_only:
        result.fairness, result.importance = text_only_facts()
    write_json_atomic(out_file, result)
    return result


def _propose_shadow(
    registry: Registry,
    result: RetrainResult,
    evidence: ShadowEvidence,
    shadow: ModelVersionInfo,
    out_file: Path,
    period: str,
) -> RetrainResult:
    """The kept challenger earned it on the months it shadowed: propose it (no new training)."""
    paired = PairedDifference(**evidence.paired) if evidence.paired else None
    registry.add_to_run(
        shadow.run_id,
        metrics=_paired_metrics(paired) if paired else {},
        documents={PAIRED_ARTIFACT: evidence.paired} if evidence.paired else {},
    )
    registry.tag_version(shadow.version, "driftgate.decision", "promote")
    registry.tag_version(shadow.version, "driftgate.decision_reasons", " | ".join(evidence.reasons))
    # The comparison with the champion leads the record, as a fresh challenger's does.
    lead = [r for r in evidence.reasons if r.startswith("challenger ")][-1:]
    registry.record(
        "propose",
        lead + [r for r in evidence.reasons if r not in lead],
        f"shadow {period}",
        version=shadow.version,
    )
    result.decision = "promote"
    result.reasons = evidence.reasons
    result.trigger = [
        f"challenger v{shadow.version}, kept earlier, scored {', '.join(evidence.months)} beside "
        "the champion and their labels are in"
    ]
    result.challenger_version = shadow.version
    result.challenger_run_id = shadow.run_id
    result.estimator = shadow.params.get("estimator")
    result.comparison = Comparison(
        evaluated_on=evidence.evaluated_on,
        rows=evidence.rows,
        challenger=evidence.challenger,
        champion=evidence.champion,
        paired=evidence.paired,
    )
    result.fairness = registry.run_json(shadow.run_id, RECENT_FAIRNESS_ARTIFACT) or {}
    result.importance = registry.run_json(shadow.run_id, STABILITY_ARTIFACT)
    write_json_atomic(out_file, result)
    return result


def _paired_metrics(paired: PairedDifference) -> dict[str, float]:
    """The paired comparison in MLflow, beside the challenger's other metrics."""
    name = f"recent_{paired.metric}_difference"
    return {
        name: paired.difference,
        f"{name}_lower": paired.lower,
        f"{name}_upper": paired.upper,
        f"recent_{paired.metric}_probability_better": paired.probability_better,
    }


def _champion_estimator(
    config: ModelConfig, champion: ModelVersionInfo | None
) -> tuple[str, dict[str, Any]]:
    """The champion's estimator and hyper-parameters, as its training run logged them.

    MLflow keeps parameters as text; they are read back as Python literals (``None``, numbers).
    Without a champion (or an estimator it no longer names), the first configured candidate
    with its defaults.
    """
    if champion is None or champion.params.get("estimator") not in config.candidates:
        return config.candidates[0], {}
    params: dict[str, Any] = {}
    for key, text in champion.params.items():
        if key.startswith("best."):
            try:
                params[key.removeprefix("best.")] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                params[key.removeprefix("best.")] = text
    return champion.params["estimator"], params


def _month_evidence(
    registry: Registry,
    config: ModelConfig,
    months: list[LabelledMonth],
    current_drift: dict[str, Any] | None,
) -> list[MonthEvidence]:
    """What each labelled month's files say about change, oldest first.

    A matured month: its realized ROC AUC against the test ROC AUC of the version that scored
    it, and its own drift result. The current batch (the last month, when ``current_drift`` is
    given): this run's drift result, its concept drift the realized drop.
    """
    root = registry.settings.path(registry.settings.output_dir) / config.name
    trained: dict[int, float | None] = {}

    def test_metric(version: Any) -> float | None:
        if not isinstance(version, int):
            return None
        if version not in trained:
            try:
                found = registry.version(version).metrics.get("test_roc_auc")
            except RegistryError:
                found = None
            trained[version] = None if found is None else float(found)
        return trained[version]

    evidence = []
    matured = months[:-1] if current_drift is not None else months
    for month in matured:
        folder = root / month.name
        performance = read_json_if_exists(folder / PERFORMANCE_FILE)
        realized = (performance.get("metrics") or {}).get("roc_auc")
        reference = test_metric(performance.get("model_version"))
        drop = None
        if realized is not None and realized == realized and reference is not None:
            drop = round(reference - float(realized), 4)
        evidence.append(_drift_evidence(month.name, read_json_if_exists(folder / DRIFT_FILE), drop))
    if current_drift is not None:
        concept = current_drift.get("concept_drift") or {}
        evidence.append(_drift_evidence(months[-1].name, current_drift, concept.get("drop")))
    return evidence


def _drift_evidence(name: str, drift: dict[str, Any], drop: Any) -> MonthEvidence:
    prediction = drift.get("prediction_drift") or {}
    estimated = drift.get("estimated_performance") or {}
    share = drift.get("drift_share")
    return MonthEvidence(
        period=name,
        realized_drop=None if drop is None else float(drop),
        drift_share=None if share is None else float(share),
        prediction_drifted=prediction.get("detected") if prediction else None,
        estimated_drop=None if estimated.get("drop") is None else float(estimated["drop"]),
    )


def _split_reference(
    reference: pd.DataFrame | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Training rows and the rows to compare on, when no new month has enough labels.

    Forced retraining without fresh labels compares on a held-out slice of the reference.
    """
    from sklearn.model_selection import train_test_split

    if reference is None:
        raise DataError("no champion and too few labelled rows to train and compare a model")
    learn, holdout = train_test_split(
        reference, test_size=0.2, stratify=reference["__label__"], random_state=seed
    )
    return learn, holdout, f"held-out 20% of the reference data ({len(holdout)} rows)"


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
        _record_abandoned(registry, out_dir.name, digest, result.challenger_version)
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


def _record_abandoned(registry: Registry, period: str, digest: str, kept: int | None) -> None:
    """Versions an earlier, killed run registered for this same batch, recorded as abandoned.

    A run killed after MLflow registered its version but before ``retrain.json`` was written
    leaves a version nobody compared; the re-run trains again (its outcome is the one the files
    hold). The abandoned version keeps no alias of its own making and says why in its record.
    """
    for version in registry.versions():
        if version.version == kept or version.run_tags.get(BATCH_DIGEST_TAG) != digest:
            continue
        if version.run_tags.get("driftgate.period") != period:
            continue
        if any(r.verdict == ABANDONED for r in read_records(version.tags)):
            continue
        if CHAMPION in version.aliases:
            continue  # a first version serves; nothing was abandoned
        why = f"registered by a run of {period} that was stopped before it finished; " + (
            f"the re-run trained v{kept} on the same batch" if kept else "the re-run kept none"
        )
        registry.record(ABANDONED, [why], "re-run", version=version.version)
        log.warning("v%d of %s: %s", version.version, registry.name, why)


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
