"""`pipeline backtest`: the retrain policies replayed month by month on one history.

Every policy sees the same months, the same label delay and the same decision code as the
monthly cycle (``monitoring.policy``); what differs is when it retrains. No MLflow and no
GitHub: models live in memory, and a challenger trained on the same data for two policies is
trained once. Labels of a month are used by a policy only ``label_delay_months`` later; the
realized metric of the serving model, known in hindsight, is what the policies are judged on.

Simplifications, said here and in docs/monitoring.md: retraining refits the first champion's
estimator and hyper-parameters (``model.train.refit``), the fairness gate and the age trigger
are left out (the metric gates and ``min_improvement`` decide promotions), and drift is
measured against the serving model's training data as the cycle does.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.errors import DataError
from pipeline.model.data import read_batch
from pipeline.model.periods import shift_month
from pipeline.model.scenarios import scenario_month
from pipeline.model.schema import ValidatedBatch, validate_batch
from pipeline.model.synthetic import generate
from pipeline.model.train import WEIGHT_COLUMN, TrainOutcome, refit, train
from pipeline.model.trainingsets import (
    LabelledMonth,
    choose_training_rows,
    split_validation,
    too_few,
)
from pipeline.monitoring.backtest import (
    POLICIES,
    BacktestMonth,
    PolicyMonth,
    PolicySummary,
    summarize,
)
from pipeline.monitoring.comparison import MIN_ROWS_PER_CLASS, paired_difference
from pipeline.monitoring.drift import DriftResult, detect_drift
from pipeline.monitoring.estimation import PerformanceEstimator
from pipeline.monitoring.performance import labelled_rows, score_metrics
from pipeline.monitoring.policy import (
    Decision,
    drift_asks_retrain,
    promotion_decision,
    retrain_decision,
)
from pipeline.monitoring.windows import SINCE_CHANGE, MonthEvidence, change_start
from pipeline.reporting.backtest import render_backtest
from pipeline.results import staged_outputs, to_jsonable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger("pipeline")

BACKTEST_FILE = "backtest.json"
BACKTEST_MARKDOWN = "backtest.md"
DEFAULT_POLICY = "default"
_FIRST_PERIOD = "2025-01"  # synthetic histories are dated from here


@dataclass
class Served:
    """A model some policy serves: what it learned from, and its estimator."""

    key: str  # v1 (the first champion), v2, ... in the order the replay trained them
    outcome: TrainOutcome
    training: pd.DataFrame
    learned: frozenset[int]  # replayed months (indices) it learned from
    estimator: PerformanceEstimator
    # Learned only the months since a change: (that month, rows the replaced model learned).
    since_change: tuple[str, int] | None = None

    @property
    def catch_up(self) -> tuple[str, int, int] | None:
        """``retrain_decision``'s catch-up: (change, rows learned, rows wanted)."""
        if self.since_change is None:
            return None
        return self.since_change[0], len(self.training), self.since_change[1]

    @property
    def trained_metric(self) -> float:
        return float(self.outcome.test_metrics["roc_auc"])


@dataclass
class BacktestResult:
    model: str
    source: str
    replayed_months: int
    label_delay_months: int
    default_policy: str
    policies: dict[str, PolicySummary]
    months: list[BacktestMonth]
    seconds: float


def backtest_step(
    settings: Settings,
    config: ModelConfig,
    out: Path,
    scenario: str | None = None,
    months: int = 24,
    history: Path | None = None,
    time_column: str | None = None,
    warmup: int = 3,
    seed: int = 0,
) -> str:
    """Replay, write ``backtest.json`` and ``backtest.md`` to ``out``; return the table."""
    started = time.perf_counter()
    if history is not None:
        source = str(history)
        warm, replay = _history_months(config, history, time_column, warmup)
    elif scenario is not None:
        source = f"scenario {scenario} ({months} months)"
        warm, replay = _scenario_months(config, scenario, months, seed)
    else:
        raise DataError("name a --scenario or a --history file to replay")
    replayer = _Replay(config, warm, replay, seed)
    records = replayer.run()
    result = BacktestResult(
        model=config.name,
        source=source,
        replayed_months=len(replay),
        label_delay_months=config.label_delay_months,
        default_policy=DEFAULT_POLICY,
        policies={
            policy: summarize(records, policy, config.thresholds, config.label_delay_months)
            for policy in POLICIES
        },
        months=records,
        seconds=round(time.perf_counter() - started, 1),
    )
    data = to_jsonable(result)
    markdown = render_backtest(data)
    with staged_outputs(out) as outputs:
        outputs.write_json(BACKTEST_FILE, result)
        outputs.write_text(BACKTEST_MARKDOWN, markdown)
    return markdown


def _scenario_months(
    config: ModelConfig, scenario: str, months: int, seed: int
) -> tuple[pd.DataFrame, list[tuple[str, ValidatedBatch]]]:
    if months < 2:
        raise DataError(f"--months must be at least 2 (got {months})")
    warm = validate_batch(
        generate(config, config.training_rows, seed), config, "synthetic reference"
    )
    replay = []
    for index in range(months):
        period = shift_month(_FIRST_PERIOD, index)
        frame = scenario_month(config, scenario, index, months, config.batch_rows, seed + index + 1)
        replay.append((period, validate_batch(frame, config, f"{scenario} {period}")))
    return warm.frame, replay


def _history_months(
    config: ModelConfig, path: Path, time_column: str | None, warmup: int
) -> tuple[pd.DataFrame, list[tuple[str, ValidatedBatch]]]:
    """A user's dated, labelled history: one period per calendar month of ``time_column``."""
    import pandas as pd

    if not time_column:
        raise DataError("--history needs --time-column: the column that dates each row")
    frame = read_batch(path)
    if time_column not in frame.columns:
        raise DataError(f"{path} has no column '{time_column}' (the --time-column)")
    dates = pd.to_datetime(frame[time_column], errors="coerce", utc=True)
    bad = dates.isna()
    if bad.any():
        raise DataError(
            f"{path}: {int(bad.sum())} value(s) of '{time_column}' are not dates "
            f"(e.g. {frame.loc[bad, time_column].iloc[0]!r})"
        )
    if config.target not in frame.columns:
        raise DataError(f"{path} has no '{config.target}' column: a backtest needs the labels")
    periods = dates.dt.strftime("%Y-%m")
    names = sorted(periods.unique())
    if len(names) < warmup + 1:
        raise DataError(
            f"{path} covers {len(names)} month(s) of '{time_column}'; the backtest needs more "
            f"than --warmup {warmup}: {warmup} to train the first champion, then one to replay"
        )
    batches = [
        (name, validate_batch(frame[periods == name].drop(columns=[time_column]), config, name))
        for name in names
    ]
    for name, batch in batches:
        if not batch.has_labels:
            raise DataError(f"{path}: month {name} has no labels in '{config.target}'")
    warm = pd.concat([batch.frame for _, batch in batches[:warmup]], ignore_index=True)
    return warm, batches[warmup:]


class _Replay:
    """One pass over the months, every policy side by side, sharing models and drift runs."""

    def __init__(
        self,
        config: ModelConfig,
        warm: pd.DataFrame,
        replay: list[tuple[str, ValidatedBatch]],
        seed: int,
    ) -> None:
        self.config = config
        self.replay = replay
        self.seed = seed
        self.warm = warm
        self.challengers: dict[tuple[Any, ...], tuple[Served, str]] = {}
        self.drifts: dict[tuple[str, int], DriftResult] = {}
        self.scores: dict[tuple[str, int], np.ndarray] = {}

    def run(self) -> list[BacktestMonth]:
        first = train(self.config, self.warm, self.seed)
        initial = self._served("v1", first, self.warm, frozenset())
        serving = {policy: initial for policy in POLICIES}
        records: list[BacktestMonth] = []
        for index, (period, batch) in enumerate(self.replay):
            month = BacktestMonth(period, {})
            for policy in POLICIES:
                month.policies[policy], serving[policy] = self._month(
                    policy, serving[policy], index, records
                )
            records.append(month)
            actions = ", ".join(f"{p} {m.action}" for p, m in month.policies.items())
            print(
                f"backtest {period} ({index + 1}/{len(self.replay)}): {actions}",
                file=sys.stderr,
                flush=True,
            )
        return records

    def _served(
        self, key: str, outcome: TrainOutcome, training: pd.DataFrame, learned: frozenset[int]
    ) -> Served:
        import numpy as np

        estimator = PerformanceEstimator(threshold=self.config.decision_threshold).fit(
            np.array(outcome.test_scores), np.array(outcome.test_labels), f"{key} test split"
        )
        return Served(key, outcome, training, learned, estimator)

    def _month(
        self, policy: str, served: Served, index: int, records: list[BacktestMonth]
    ) -> tuple[PolicyMonth, Served]:
        config, thresholds = self.config, self.config.thresholds
        features, labels = labelled_rows(self.replay[index][1].frame, config)
        scores = self._scores(served, index)
        realized = score_metrics(scores, labels, config.decision_threshold)["roc_auc"]
        unseen = self._unseen(served, index)
        new_rows = sum(len(self.replay[j][1].frame) for j in unseen)
        decision = self._decide(policy, served, index, scores, new_rows, unseen, records)
        record = PolicyMonth("serve", served.key, round(realized, 4), served.trained_metric)
        record.reasons = decision.reasons
        if decision.outcome != "retrain" or not unseen:
            return record, served
        built = self._challenger(policy, served, index, records)
        if isinstance(built, str):
            record.reasons = decision.reasons + [built]
            record.action = "retrain-keep"
            return record, served
        challenger, holdout, window = built
        x_holdout, y_holdout = labelled_rows(holdout, config)
        threshold = config.decision_threshold
        new_scores = challenger.outcome.model.predict_proba(x_holdout)[:, 1]
        old_scores = served.outcome.model.predict_proba(x_holdout)[:, 1]
        paired = paired_difference(y_holdout, new_scores, old_scores, config.primary_metric)
        promotion = promotion_decision(
            score_metrics(new_scores, y_holdout, threshold),
            score_metrics(old_scores, y_holdout, threshold),
            thresholds,
            config.primary_metric,
            paired=paired,
        )
        hindsight = score_metrics(self._scores(challenger, index), labels, threshold)["roc_auc"]
        record.false_alarm = hindsight - realized < thresholds.min_improvement
        record.reasons = decision.reasons + promotion.reasons
        record.window = window
        if promotion.outcome == "promote":
            record.action = "retrain-promote"
            record.promotion_gain = self._gain_in_hindsight(challenger, served, index)
            return record, challenger
        record.action = "retrain-keep"
        return record, served

    def _gain_in_hindsight(self, new: Served, old: Served, index: int) -> float | None:
        """The promoted model's mean realized metric minus the replaced one's, on the months
        that follow the promotion (at most ``label_delay_months + 2``, as the recovery is
        judged)."""
        following = range(
            index + 1, min(index + 3 + self.config.label_delay_months, len(self.replay))
        )
        if not following:
            return None
        threshold = self.config.decision_threshold
        gains = []
        for month in following:
            _, labels = labelled_rows(self.replay[month][1].frame, self.config)
            after = score_metrics(self._scores(new, month), labels, threshold)["roc_auc"]
            before = score_metrics(self._scores(old, month), labels, threshold)["roc_auc"]
            gains.append(after - before)
        return round(sum(gains) / len(gains), 4)

    def _decide(
        self,
        policy: str,
        served: Served,
        index: int,
        scores: np.ndarray,
        new_rows: int,
        unseen: list[int],
        records: list[BacktestMonth],
    ) -> Decision:
        thresholds = self.config.thresholds
        if policy == "never":
            return Decision("skip", ["the first champion serves for ever"])
        if policy == "monthly":
            if unseen:
                return Decision("retrain", ["every month"])
            return Decision("skip", ["no labelled month the model has not learned from yet"])
        drifted = False
        if policy == "drift":  # today's rule before the backtest: any drifted feature
            drifted = self._drift(served, index).drift_detected
        elif policy == "default":  # the configured rule, as the monthly cycle applies it
            found = self._drift(served, index)
            drifted = drift_asks_retrain(found.drift_detected, found.drift_share, thresholds)
        estimated = matured = None
        if policy != "drift":
            estimated = served.estimator.estimate(scores, reference=served.trained_metric).drop
            matured = self._matured_drop(policy, served, index, records)
        return retrain_decision(
            drifted,
            False,
            new_rows,
            None,
            False,
            thresholds,
            estimated,
            matured,
            catch_up=served.catch_up,
        )

    def _unseen(self, served: Served, index: int) -> list[int]:
        """Months whose labels have arrived by ``index`` that ``served`` has not learned from."""
        delay, window = self.config.label_delay_months, self.config.training_window_months
        return [
            j
            for j in range(index)
            if index - j >= max(delay, 1) and index - j <= window and j not in served.learned
        ]

    def _matured_drop(
        self, policy: str, served: Served, index: int, records: list[BacktestMonth]
    ) -> tuple[str, float] | None:
        newest = index - max(self.config.label_delay_months, 1)
        if newest < 0:
            return None
        record = records[newest].policies[policy]
        if record.version != served.key or record.metric is None:
            return None
        return records[newest].period, round(served.trained_metric - record.metric, 4)

    def _scores(self, served: Served, index: int) -> np.ndarray:
        key = (served.key, index)
        if key not in self.scores:
            features, _ = labelled_rows(self.replay[index][1].frame, self.config)
            self.scores[key] = served.outcome.model.predict_proba(features)[:, 1]
        return self.scores[key]

    def _drift(self, served: Served, index: int) -> DriftResult:
        """Drift of the month against the serving model's training data; its labels hidden."""
        import numpy as np

        key = (served.key, index)
        if key not in self.drifts:
            period, batch = self.replay[index]
            unlabelled = ValidatedBatch(
                batch.frame, has_labels=False, rejected_rows=batch.rejected_rows
            )
            reference = ValidatedBatch(served.training, has_labels=True)
            self.drifts[key], _ = detect_drift(
                self.config,
                reference,
                unlabelled,
                f"training data of {served.key}",
                period,
                model=served.outcome.model,
                reference_scores=(
                    np.array(served.outcome.test_scores),
                    f"the held-out test split of {served.key}",
                ),
                snapshot_wanted=False,
            )
        return self.drifts[key]

    def _challenger(
        self, policy: str, served: Served, index: int, records: list[BacktestMonth]
    ) -> tuple[Served, pd.DataFrame, str] | str:
        """A challenger trained on the best of the change-aware windows, and the rows to judge
        it on: the monthly cycle's ``model.trainingsets``, on the months in memory.

        Returns why not (a sentence) when the validation rows cannot compare two models.
        """
        delay, span = max(self.config.label_delay_months, 1), self.config.training_window_months
        matured = [j for j in range(index) if delay <= index - j <= span]
        months = [
            LabelledMonth(self.replay[j][0], self.replay[j][1].frame, j in served.learned)
            for j in matured
        ]
        evidence = [self._evidence(policy, j, records) for j in matured]
        change = change_start(evidence, self.config.thresholds)
        split = split_validation(months, change)
        problem = too_few(split.validation, 40, MIN_ROWS_PER_CLASS)
        if problem:
            return (
                f"but {split.rows_named} are too few to compare a challenger with the "
                f"champion ({problem}); the champion keeps serving"
            )
        key: tuple[Any, ...] = (served.key, tuple(matured), change.period if change else None)
        if key not in self.challengers:
            estimator = (served.outcome.estimator_name, served.outcome.best_params)
            training, choice, fitted = choose_training_rows(
                self.config, served.training, split, change, estimator, self.seed
            )
            # The chosen window was fitted to be chosen: the same estimator on the same rows.
            outcome = fitted or refit(self.config, estimator[0], estimator[1], training, self.seed)
            # A window without the reference starts afresh: what it left out was weighed and
            # set aside, so those months count as learned too.
            considered = {
                j for j in matured if self.replay[j][0] in {m.name for m in split.training}
            }
            learned = frozenset(served.learned | considered)
            kept = [c for c in training.columns if c != WEIGHT_COLUMN]
            # Versions are numbered in the order they are trained; v1 is the first champion.
            name = f"v{len(self.challengers) + 2}"
            fresh = self._served(name, outcome, training[kept], learned)
            if choice.chosen == SINCE_CHANGE and change is not None:
                wanted = served.since_change[1] if served.since_change else len(served.training)
                fresh.since_change = (change.period, wanted)
            elif served.since_change is not None:
                # Its reference is the since-change rows: it is still catching up.
                fresh.since_change = served.since_change
            self.challengers[key] = (fresh, choice.chosen)
        challenger, chosen = self.challengers[key]
        return challenger, split.validation, chosen

    def _evidence(self, policy: str, month: int, records: list[BacktestMonth]) -> MonthEvidence:
        """What a matured month says about change: the realized drop of the model that served
        it (its labels are in), and its drift when the policy measured it."""
        record = records[month].policies[policy]
        drop = None
        if record.metric is not None and not math.isnan(record.metric):
            drop = round(record.trained_metric - record.metric, 4)
        drift = self.drifts.get((record.version, month))
        return MonthEvidence(
            period=records[month].period,
            realized_drop=drop,
            drift_share=drift.drift_share if drift else None,
            prediction_drifted=(
                drift.prediction_drift.detected if drift and drift.prediction_drift else None
            ),
        )
