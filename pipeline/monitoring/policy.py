"""The decisions, as pure functions of plain data: is this drift, retrain, promote?

Each returns a ``Decision`` carrying its reasons, so the issue, the PR and the MLflow tags can
say why. Nothing here touches MLflow, GitHub or files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.config import FairnessConfig, Thresholds
from pipeline.errors import ConfigError
from pipeline.monitoring.comparison import PairedDifference
from pipeline.monitoring.fairness import UPPER, metric_name


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: list[str] = field(default_factory=list)

    @property
    def positive(self) -> bool:
        return self.outcome in {"drift", "retrain", "promote"}


def per_column_threshold(thresholds: Thresholds, n_features: int) -> float:
    """Bonferroni: each of ``n_features`` tests at alpha / n keeps the family-wise rate at alpha."""
    return thresholds.feature_alpha / max(n_features, 1)


def drift_verdict(
    n_features: int,
    drifted_features: Sequence[str],
    thresholds: Thresholds,
    prediction_drifted: bool | None,
    metric_drop: float | None,
) -> Decision:
    """Drift when any feature, the score distribution or the champion's quality has moved."""
    reasons: list[str] = []
    share = len(drifted_features) / max(n_features, 1)
    if drifted_features:
        names = ", ".join(drifted_features[:5]) + (" ..." if len(drifted_features) > 5 else "")
        noun = "feature" if n_features == 1 else "features"
        reasons.append(f"{len(drifted_features)} of {n_features} {noun} drifted ({names})")
    if thresholds.drift_trigger == "dataset" and share >= thresholds.drift_share:
        reasons.append(
            f"drifted share {share:.0%} reaches {thresholds.drift_share:.0%}, the share at which "
            "drift alone retrains"
        )
    if prediction_drifted:
        reasons.append("the champion's score distribution drifted")
    if metric_drop is not None and metric_drop > thresholds.max_metric_drop:
        reasons.append(
            f"champion ROC AUC dropped by {metric_drop:.3f} on labelled rows "
            f"(more than {thresholds.max_metric_drop:.3f}): concept drift"
        )
    if reasons:
        return Decision("drift", reasons)
    return Decision(
        "no_drift",
        [f"no feature of {n_features} drifted at the family-wise level {thresholds.feature_alpha}"],
    )


DRIFT_TRIGGERS = ("dataset", "feature")


def retrain_rule(drift_trigger: str, drift_share: float) -> str:
    """When drift alone retrains, in the words the issue and the report use after "drift alone
    retrains": "at 30% of the features drifted" or "on any detected drift"."""
    if drift_trigger == "feature":
        return "on any detected drift"
    return f"at {drift_share:.0%} of the features drifted"


def drift_asks_retrain(drift_detected: bool, drift_share: float, thresholds: Thresholds) -> bool:
    """Whether drift alone is a reason to retrain, under ``thresholds.drift_trigger``."""
    if thresholds.drift_trigger not in DRIFT_TRIGGERS:
        raise ConfigError(
            f"drift_trigger = {thresholds.drift_trigger!r}: choose from {', '.join(DRIFT_TRIGGERS)}"
        )
    if thresholds.drift_trigger == "feature":
        return drift_detected
    return drift_share >= thresholds.drift_share


def drift_note(drift_detected: bool, drift_share: float, thresholds: Thresholds) -> str | None:
    """Why a detected drift does not ask for a retrain, or None when it does (or none was)."""
    if not drift_detected or drift_asks_retrain(drift_detected, drift_share, thresholds):
        return None
    return (
        f"drift detected, but its drifted share {drift_share:.0%} is under "
        f"{thresholds.drift_share:.0%}, the share that retrains on drift alone"
    )


def retrain_decision(
    drift_detected: bool,
    concept_drift: bool,
    labelled_rows: int,
    model_age_days: float | None,
    force: bool,
    thresholds: Thresholds,
    estimated_drop: float | None = None,
    matured_drop: tuple[str, float] | None = None,
    drift_note: str | None = None,
    catch_up: tuple[str, int, int] | None = None,
) -> Decision:
    """Retrain on a trigger (drift, performance drop, age, --force) with enough labels.

    A performance drop is the realized one (``concept_drift``, from labels) when labels exist,
    else the estimated one (``estimated_drop``, from the champion's scores); the reason says
    which. ``matured_drop`` is (period, drop) of the newest period whose late labels arrived.
    ``drift_note`` says why a detected drift does not count (``drift_asks_retrain``).
    ``catch_up`` is (change period, rows learned, rows wanted) of a champion that learned only
    the months since a change: it retrains as new months mature until it has learned as many
    rows as the model it replaced, so a recovery does not stop at its first, thin model.
    """
    triggers: list[str] = []
    if force:
        triggers.append("retraining was forced")
    if drift_detected:
        triggers.append("drift was detected")
    if concept_drift:
        triggers.append("the champion's performance dropped")
    if matured_drop is not None and matured_drop[1] > thresholds.max_metric_drop:
        triggers.append(
            f"the champion's ROC AUC on {matured_drop[0]} dropped by {matured_drop[1]:.3f} "
            f"(more than {thresholds.max_metric_drop:.3f}; its late labels arrived)"
        )
    if (
        not concept_drift
        and estimated_drop is not None
        and estimated_drop > thresholds.max_metric_drop
    ):
        triggers.append(
            f"the champion's estimated ROC AUC dropped by {estimated_drop:.3f} "
            f"(more than {thresholds.max_metric_drop:.3f}; estimated from its scores, "
            "labels not known yet)"
        )
    if catch_up is not None and catch_up[1] < catch_up[2]:
        triggers.append(
            f"the champion learned only {catch_up[1]} rows since the change in {catch_up[0]} "
            f"(the model it replaced learned {catch_up[2]})"
        )
    if model_age_days is not None and model_age_days > thresholds.max_model_age_days:
        triggers.append(
            f"the champion is {model_age_days:.0f} days old "
            f"(limit {thresholds.max_model_age_days})"
        )
    if not triggers:
        if drift_note:
            return Decision("skip", [f"{drift_note}; no performance drop; the champion is recent"])
        return Decision("skip", ["no drift, no performance drop and the champion is recent"])
    if not force and labelled_rows < thresholds.min_new_labels:
        return Decision(
            "skip",
            triggers
            + [
                f"but only {labelled_rows} new labelled rows "
                f"(at least {thresholds.min_new_labels} needed to retrain)"
            ],
        )
    return Decision("retrain", triggers + [f"{labelled_rows} new labelled rows available"])


def metric_gates(
    metrics: Mapping[str, float], thresholds: Thresholds, subject: str, prefix: str = ""
) -> tuple[list[str], list[str]]:
    """The metric gates every promotion passes: (failures, passes), each a reason.

    ``prefix`` picks the metrics' names (``test_`` for a version's held-out test metrics).
    """
    failures: list[str] = []
    passes: list[str] = []
    for metric, minimum in (("roc_auc", thresholds.min_roc_auc), ("f1", thresholds.min_f1)):
        value = metrics.get(prefix + metric)
        if value is None or value != value:
            failures.append(f"{subject} has no {metric} (gate {minimum})")
        elif value < minimum:
            failures.append(f"{subject} {metric} {value:.3f} is below the gate {minimum}")
        else:
            passes.append(f"{subject} {metric} {value:.3f} passes the gate {minimum}")
    return failures, passes


def fairness_gates(
    metrics: Mapping[str, float],
    fairness: FairnessConfig,
    thresholds: Thresholds,
    subject: str,
    prefix: str = "",
) -> tuple[list[str], list[str]]:
    """The fairness gate: (failures, passes) for each gated attribute's between-group ratio.

    ``metrics`` holds ``fairness_<attribute>_<rate>_ratio`` values (``prefix``ed like the metric
    gates). A gated attribute with no ratio (fewer than two groups large enough) fails: a
    promotion the gate cannot check is not waved through.
    """
    failures: list[str] = []
    passes: list[str] = []
    rate, minimum = fairness.gate_metric, thresholds.min_fairness_ratio
    shown = rate.replace("_", "-") if rate == "selection_rate" else rate.upper()
    for attribute in fairness.gate_attributes:
        name = prefix + metric_name(attribute, rate)
        value, upper = metrics.get(name), metrics.get(name + UPPER)
        if value is None or value != value:
            failures.append(
                f"{subject} has no {attribute} {shown} ratio (too few rows per group) "
                f"for the fairness gate {minimum}"
            )
        elif value >= minimum:
            passes.append(
                f"{subject}: {attribute} {shown} ratio {value:.3f} passes the fairness gate "
                f"{minimum}"
            )
        elif fairness.gate_confidence and upper is not None and upper >= minimum:
            passes.append(
                f"{subject}: {attribute} {shown} ratio {value:.3f} is under {minimum} but not "
                f"significantly (95% upper bound {upper:.3f}): passes the fairness gate"
            )
        else:
            bound = (
                f" (95% upper bound {upper:.3f})"
                if fairness.gate_confidence and upper is not None
                else ""
            )
            failures.append(
                f"{subject} fails the fairness gate: {attribute} {shown} ratio {value:.3f}"
                f"{bound} is below {minimum}"
            )
    return failures, passes


def promotion_decision(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    thresholds: Thresholds,
    primary_metric: str = "roc_auc",
    fairness: tuple[list[str], list[str]] | None = None,
    paired: PairedDifference | None = None,
) -> Decision:
    """Promote when the challenger passes every gate and beats the champion on the same data.

    Beating means a gain of at least ``min_improvement`` and, with ``paired`` (the paired test
    of the difference on the same rows), a probability of being better of at least
    ``promotion_confidence``: a gain the rows cannot tell from noise is not proposed.
    ``fairness`` is ``fairness_gates``' answer for the challenger. A challenger that beats the
    champion but fails it is refused (``refuse``), not merely kept: the reviewer must see that
    a better model was held back, and why.
    """
    failures, passes = metric_gates(challenger, thresholds, "challenger")
    fairness_failures, fairness_passes = fairness or ([], [])
    if failures:
        return Decision("keep", failures + fairness_failures + passes)
    passes = passes + fairness_passes
    if champion is None:
        if fairness_failures:
            return Decision("refuse", fairness_failures + passes)
        return Decision("promote", passes + ["there is no champion yet"])
    new, old = challenger[primary_metric], champion.get(primary_metric, float("nan"))
    if old != old:
        if fairness_failures:
            return Decision("refuse", fairness_failures + passes)
        return Decision("promote", passes + [f"the champion has no {primary_metric} on this data"])
    gain = paired.difference if paired is not None else new - old
    shown = paired.describe() if paired is not None else f"{gain:+.4f}"
    comparison = f"challenger {primary_metric} {new:.4f} vs champion {old:.4f}: {shown}"
    # Not better at all is never enough, whatever the settings: an identical challenger stays.
    if gain <= 0 or gain < thresholds.min_improvement:
        if gain > 0:
            why = f"better by less than the minimum improvement {thresholds.min_improvement}"
        else:
            why = "not better"
        return Decision("keep", [f"{comparison}: {why}"] + passes)
    confidence = thresholds.promotion_confidence
    if paired is not None and confidence > 0 and paired.probability_better < confidence:
        return Decision(
            "keep",
            [
                f"{comparison}: not enough evidence (promotion needs probability "
                f"{confidence:.2f} on {paired.rows} rows)"
            ]
            + passes,
        )
    if fairness_failures:
        return Decision("refuse", fairness_failures + [comparison] + passes)
    return Decision("promote", passes + [comparison])


def version_gates(
    version_metrics: Mapping[str, float],
    thresholds: Thresholds,
    fairness: FairnessConfig | None,
    version: int | None,
) -> tuple[list[str], list[str]]:
    """Every gate a registered version passes before it serves: metrics, then fairness.

    ``version_metrics`` are its training run's: the metric gates read the held-out test split
    (``test_``). The fairness gate reads the rows the version was compared with the champion
    on (``recent_``) when it was a challenger, so that `promote` decides on the numbers the
    retrain verdict and the PR showed; a version never compared falls back to its test split.
    """
    failures, passes = metric_gates(version_metrics, thresholds, f"version {version} test", "test_")
    if fairness is not None:
        more_failures, more_passes = version_fairness_gates(
            version_metrics, fairness, thresholds, version
        )
        failures, passes = failures + more_failures, passes + more_passes
    return failures, passes


def version_fairness_gates(
    version_metrics: Mapping[str, float],
    fairness: FairnessConfig,
    thresholds: Thresholds,
    version: int | None,
) -> tuple[list[str], list[str]]:
    """The fairness gate of a registered version, on the rows ``version_gates`` explains."""
    if any(k.startswith("recent_fairness_") for k in version_metrics):
        subject, prefix = f"version {version} on its comparison rows", "recent_"
    else:
        subject, prefix = f"version {version} test", "test_"
    return fairness_gates(version_metrics, fairness, thresholds, subject, prefix)


@dataclass(frozen=True)
class MergedPullFacts:
    """What a closed promotion PR and the registry say, gathered at the edges."""

    action: str
    merged: bool
    base_ref: str
    default_branch: str
    labels: Sequence[str]
    card_version: int | None
    version_exists: bool
    version_metrics: Mapping[str, float]
    schema_problems: Sequence[str]


def merged_pull_decision(
    facts: MergedPullFacts,
    thresholds: Thresholds,
    fairness: FairnessConfig | None = None,
    label: str = "model-promotion",
) -> Decision:
    """Promote on a merged, labelled PR into the default branch whose card names a good version.

    The first failing gate is the reason given, in the order a reviewer would check them.
    """
    version = facts.card_version
    gates: list[tuple[bool, str]] = [
        (facts.action == "closed", f"the event is '{facts.action}', not a closed pull request"),
        (facts.merged, "the pull request was closed without being merged"),
        (
            facts.base_ref == facts.default_branch,
            f"it was merged into '{facts.base_ref}', not the default branch "
            f"'{facts.default_branch}'",
        ),
        (label in facts.labels, f"it does not carry the '{label}' label"),
        (version is not None, "the model card does not name a champion version"),
        (facts.version_exists, f"version {version} does not exist in the registry"),
    ]
    for passed, reason in gates:
        if not passed:
            return Decision("refuse", [reason])
    failures, passes = version_gates(facts.version_metrics, thresholds, fairness, version)
    if failures:
        return Decision("refuse", failures[:1])
    reasons = [f"PR merged into {facts.base_ref} with the '{label}' label", *passes]
    if facts.schema_problems:
        problems = "; ".join(facts.schema_problems)
        return Decision(
            "refuse", [f"version {version} does not accept the champion's inputs: {problems}"]
        )
    reasons.append("its signature accepts the champion's input schema")
    return Decision("promote", reasons)
