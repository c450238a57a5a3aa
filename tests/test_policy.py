from dataclasses import replace

from pipeline.config import FairnessConfig, Thresholds
from pipeline.monitoring.policy import (
    MergedPullFacts,
    drift_verdict,
    fairness_gates,
    merged_pull_decision,
    per_column_threshold,
    promotion_decision,
    retrain_decision,
)

T = Thresholds()
GATED = FairnessConfig(attributes=("Gender", "Age"), gate_attributes=("Gender",))


def test_bonferroni_threshold_divides_the_family_alpha() -> None:
    assert per_column_threshold(Thresholds(feature_alpha=0.05), 25) == 0.002


def test_no_drift_when_nothing_moved() -> None:
    verdict = drift_verdict(30, [], T, prediction_drifted=False, metric_drop=0.01)
    assert verdict.outcome == "no_drift" and not verdict.positive
    assert "family-wise" in verdict.reasons[0]


def test_one_drifted_feature_is_drift_and_named() -> None:
    verdict = drift_verdict(30, ["MonthlyIncome"], T, prediction_drifted=False, metric_drop=None)
    assert verdict.positive
    assert "MonthlyIncome" in verdict.reasons[0]


def test_dataset_share_and_prediction_and_concept_reasons() -> None:
    verdict = drift_verdict(
        4, ["a", "b"], Thresholds(drift_share=0.5), prediction_drifted=True, metric_drop=0.2
    )
    text = " ".join(verdict.reasons)
    assert "50%" in text and "score distribution" in text and "concept drift" in text


def test_retrain_skips_without_a_trigger() -> None:
    decision = retrain_decision(False, False, 5000, 10, False, T)
    assert decision.outcome == "skip"


def test_retrain_on_drift_needs_enough_labels() -> None:
    waiting = retrain_decision(True, False, 10, 10, False, T)
    assert waiting.outcome == "skip" and "only 10 new labelled rows" in waiting.reasons[-1]
    assert retrain_decision(True, False, 500, 10, False, T).outcome == "retrain"


def test_retrain_on_age_and_force() -> None:
    old = retrain_decision(False, False, 500, T.max_model_age_days + 1, False, T)
    assert old.outcome == "retrain" and "days old" in old.reasons[0]
    forced = retrain_decision(False, False, 0, 1, True, T)
    assert forced.outcome == "retrain" and forced.reasons[0] == "retraining was forced"


def test_promote_needs_gates_and_improvement() -> None:
    good = {"roc_auc": 0.85, "f1": 0.5}
    assert promotion_decision(good, None, T).outcome == "promote"
    assert promotion_decision(good, {"roc_auc": 0.80}, T).outcome == "promote"
    same = promotion_decision(good, {"roc_auc": 0.849}, T)
    assert same.outcome == "keep"
    assert same.reasons[0] == (
        "challenger roc_auc 0.8500 vs champion 0.8490: +0.0010: better by less than the "
        "minimum improvement 0.005"
    )
    worse = promotion_decision(good, {"roc_auc": 0.86}, T)
    assert worse.outcome == "keep" and worse.reasons[0].endswith("-0.0100: not better")
    weak = promotion_decision({"roc_auc": 0.6, "f1": 0.5}, {"roc_auc": 0.5}, T)
    assert weak.outcome == "keep" and "below the gate" in weak.reasons[0]


def _merged(**changes: object) -> MergedPullFacts:
    facts = MergedPullFacts(
        action="closed",
        merged=True,
        base_ref="main",
        default_branch="main",
        labels=["model-promotion"],
        card_version=7,
        version_exists=True,
        version_metrics={"test_roc_auc": 0.82, "test_f1": 0.5},
        schema_problems=[],
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def test_a_merged_labelled_pr_with_a_good_version_promotes() -> None:
    decision = merged_pull_decision(_merged(), Thresholds())
    assert decision.outcome == "promote"
    assert "its signature accepts the champion's input schema" in decision.reasons


def test_the_first_failing_merge_gate_is_the_reason() -> None:
    thresholds = Thresholds()
    cases = {
        "the pull request was closed without being merged": _merged(merged=False),
        "it does not carry the 'model-promotion' label": _merged(labels=["docs"]),
        "version 7 does not exist in the registry": _merged(version_exists=False),
        "version 7 test f1 0.100 is below the gate 0.3": _merged(
            version_metrics={"test_roc_auc": 0.9, "test_f1": 0.1}
        ),
        "version 7 does not accept the champion's inputs: 'Age' is long for the champion but "
        "double for the candidate": _merged(
            schema_problems=["'Age' is long for the champion but double for the candidate"]
        ),
    }
    for reason, facts in cases.items():
        decision = merged_pull_decision(facts, thresholds)
        assert (decision.outcome, decision.reasons) == ("refuse", [reason])


def test_the_fairness_gate_reads_the_gated_ratio_only() -> None:
    fair = {"fairness_Gender_selection_rate_ratio": 0.85, "fairness_Age_selection_rate_ratio": 0.1}
    failures, passes = fairness_gates(fair, GATED, T, "challenger")
    assert failures == [] and "Gender selection-rate ratio 0.850 passes" in passes[0]
    unfair = {"fairness_Gender_selection_rate_ratio": 0.6}
    failures, _ = fairness_gates(unfair, GATED, T, "challenger")
    assert failures == [
        "challenger fails the fairness gate: Gender selection-rate ratio 0.600 " "is below 0.8"
    ]
    unknown, _ = fairness_gates({}, GATED, T, "challenger")
    assert "no Gender selection-rate ratio" in unknown[0]


def test_a_better_but_unfair_challenger_is_refused_with_both_reasons() -> None:
    gate = fairness_gates({"fairness_Gender_selection_rate_ratio": 0.6}, GATED, T, "challenger")
    decision = promotion_decision({"roc_auc": 0.9, "f1": 0.5}, {"roc_auc": 0.8}, T, fairness=gate)
    assert decision.outcome == "refuse"
    assert decision.reasons[0].startswith("challenger fails the fairness gate")
    assert "challenger roc_auc 0.9000 vs champion 0.8000: +0.1000" in decision.reasons[1]
    # Not better: kept for that reason, whatever the fairness says.
    kept = promotion_decision({"roc_auc": 0.8, "f1": 0.5}, {"roc_auc": 0.8}, T, fairness=gate)
    assert kept.outcome == "keep" and kept.reasons[0].endswith("not better")
    first = promotion_decision({"roc_auc": 0.9, "f1": 0.5}, None, T, fairness=gate)
    assert first.outcome == "refuse"


def test_a_merged_pr_naming_an_unfair_version_is_refused() -> None:
    facts = _merged(
        version_metrics={
            "test_roc_auc": 0.82,
            "test_f1": 0.5,
            "test_fairness_Gender_selection_rate_ratio": 0.5,
        }
    )
    assert merged_pull_decision(facts, T).outcome == "promote"  # no fairness settings: no gate
    decision = merged_pull_decision(facts, T, GATED)
    assert decision.outcome == "refuse"
    assert decision.reasons == [
        "version 7 test fails the fairness gate: Gender selection-rate ratio 0.500 is below 0.8"
    ]


def test_with_confidence_only_a_significant_shortfall_fails() -> None:
    confident = replace(GATED, gate_confidence=0.95)
    noisy = {
        "fairness_Gender_selection_rate_ratio": 0.76,
        "fairness_Gender_selection_rate_ratio_upper": 0.97,
    }
    failures, passes = fairness_gates(noisy, confident, T, "challenger")
    assert failures == [] and "not significantly (95% upper bound 0.970)" in passes[0]
    assert fairness_gates(noisy, GATED, T, "challenger")[0]  # the plain rule refuses it
    clear = {
        "fairness_Gender_selection_rate_ratio": 0.5,
        "fairness_Gender_selection_rate_ratio_upper": 0.7,
    }
    failures, _ = fairness_gates(clear, confident, T, "challenger")
    assert failures == [
        "challenger fails the fairness gate: Gender selection-rate ratio 0.500 "
        "(95% upper bound 0.700) is below 0.8"
    ]


def test_an_estimated_drop_triggers_a_retrain_and_says_it_was_estimated() -> None:
    decision = retrain_decision(False, False, 500, 10, False, T, estimated_drop=0.08)
    assert decision.outcome == "retrain"
    assert decision.reasons[0].startswith("the champion's estimated ROC AUC dropped by 0.080")
    assert "labels not known yet" in decision.reasons[0]
    small = retrain_decision(False, False, 500, 10, False, T, estimated_drop=0.01)
    assert small.outcome == "skip"


def test_a_realized_drop_is_used_before_an_estimated_one() -> None:
    decision = retrain_decision(False, True, 500, 10, False, T, estimated_drop=0.2)
    assert decision.reasons[0] == "the champion's performance dropped"
    assert not any("estimated" in reason for reason in decision.reasons)


def test_a_drop_seen_in_late_labels_triggers_a_retrain_naming_the_period() -> None:
    decision = retrain_decision(False, False, 500, 10, False, T, matured_drop=("2026-08", 0.09))
    assert decision.outcome == "retrain"
    assert decision.reasons[0] == (
        "the champion's ROC AUC on 2026-08 dropped by 0.090 (more than 0.050; its late labels "
        "arrived)"
    )
    quiet = retrain_decision(False, False, 500, 10, False, T, matured_drop=("2026-08", 0.01))
    assert quiet.outcome == "skip"


def test_drift_alone_retrains_on_a_drifted_dataset_or_on_any_feature_as_configured() -> None:
    from pipeline.monitoring.policy import drift_asks_retrain

    assert not drift_asks_retrain(True, 0.1, T)  # default "dataset": 10% < drift_share 30%
    assert drift_asks_retrain(True, 0.3, T)
    assert drift_asks_retrain(True, 0.1, replace(T, drift_trigger="feature"))
    assert not drift_asks_retrain(False, 0.0, replace(T, drift_trigger="feature"))


def test_an_unknown_drift_trigger_is_a_configuration_error() -> None:
    from pipeline.errors import ConfigError
    from pipeline.monitoring.policy import drift_asks_retrain

    try:
        drift_asks_retrain(True, 0.5, replace(T, drift_trigger="sometimes"))
    except ConfigError as error:
        assert str(error) == "drift_trigger = 'sometimes': choose from dataset, feature"
    else:
        raise AssertionError("no ConfigError")


def test_a_drift_under_the_dataset_share_says_why_it_does_not_retrain() -> None:
    from pipeline.monitoring.policy import drift_note

    note = drift_note(True, 0.1, T)
    decision = retrain_decision(False, False, 500, 10, False, T, drift_note=note)
    assert decision.outcome == "skip"
    assert decision.reasons == [
        "drift detected, but its drifted share 10% is under 30%, the share that retrains on "
        "drift alone; no performance drop; the champion is recent"
    ]
    assert drift_note(True, 0.5, T) is None and drift_note(False, 0.0, T) is None
