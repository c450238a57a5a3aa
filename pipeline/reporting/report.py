"""The drift issue, rendered only from a run's JSON results (and earlier periods' drift.json).

The first line is the verdict a reviewer acts on; then the evidence. A hidden marker names the
model and period so a re-run finds and updates the same issue instead of opening another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import FAIRNESS_RATES
from pipeline.model.labels import PERFORMANCE_FILE
from pipeline.monitoring.comparison import PairedDifference
from pipeline.monitoring.policy import retrain_rule
from pipeline.reporting.texts import render
from pipeline.results import read_json

ISSUE_MARKDOWN = "issue.md"
ISSUE_JSON = "issue.json"
GITHUB_FILE = "github.json"
PULL_MARKDOWN = "promotion_pr.md"
PULL_CARD = "promotion_card.md"  # dry run: the model card the PR would commit


@dataclass
class IssueDraft:
    title: str
    labels: list[str]
    body: str
    marker: str


@dataclass
class RunResults:
    model: str
    period: str
    predict: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    retrain: dict[str, Any] | None = None
    card: dict[str, Any] | None = None  # the challenger's card facts (card.json)
    operations: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    github: dict[str, Any] = field(default_factory=dict)
    # Where the run happened, for the links: the workflow run, and an MLflow server's URL.
    run_url: str | None = None
    tracking_uri: str = ""
    templates_dir: str = ""  # a fork's templates (the templates_dir setting); "" the package's


def issue_marker(model: str, period: str) -> str:
    return f"<!-- driftgate:drift-report model={model} period={period} -->"


def load_results(
    out_dir: Path,
    model: str,
    period: str,
    run_url: str | None = None,
    tracking_uri: str = "",
    templates_dir: str = "",
) -> RunResults:
    """The JSON results of one run, plus the drift results of every period beside it."""
    results = RunResults(
        model=model,
        period=period,
        run_url=run_url,
        tracking_uri=tracking_uri,
        templates_dir=templates_dir,
    )
    for name in ("predict", "drift", "retrain", "card", "operations", "github"):
        path = out_dir / f"{name}.json"
        if path.exists():
            setattr(results, name, read_json(path))
    for folder in sorted(p for p in out_dir.parent.iterdir() if p.is_dir()):
        drift_file = folder / "drift.json"
        if drift_file.exists() and folder.name <= period:
            data = read_json(drift_file)
            performance = folder / PERFORMANCE_FILE
            results.history.append(
                {
                    "period": folder.name,
                    "drift_detected": bool(data.get("drift_detected")),
                    "drift_share": float(data.get("drift_share", 0.0)),
                    "n_drifted_features": int(data.get("n_drifted_features", 0)),
                    "model_version": data.get("model_version"),
                    "estimated": data.get("estimated_performance"),
                    "realized": _realized(
                        data, read_json(performance) if performance.exists() else None
                    ),
                }
            )
    return results


def _realized(drift: dict[str, Any], performance: dict[str, Any] | None) -> dict[str, Any] | None:
    """The period's realized ROC AUC: from its late labels, else from labels in its batch."""
    if performance and performance.get("metrics", {}).get("roc_auc") is not None:
        return {
            "value": float(performance["metrics"]["roc_auc"]),
            "rows": int(performance.get("labelled_rows", 0)),
        }
    concept = drift.get("concept_drift")
    if concept and concept.get("metric") == "roc_auc":
        return {"value": float(concept["current"]), "rows": int(concept["labelled_rows"])}
    return None


def verdict_line(results: RunResults) -> str:
    drift, retrain = results.drift or {}, results.retrain or {}
    if not drift:
        head = "**Drift not measured** (no drift result in this run)"
    elif drift.get("drift_detected"):
        head = f"**Drift detected**: {'; '.join(drift.get('reasons', [])) or 'see below'}"
        patterns = _new_patterns(drift)
        if patterns:
            head += f". {patterns}"
    else:
        count = drift.get("n_features", 0)
        head = (
            "**No drift**: its one feature is stable"
            if count == 1
            else f"**No drift**: all {count} features stable"
        )
    decision = retrain.get("decision")
    if decision == "promote":
        tail = (
            f"challenger v{retrain.get('challenger_version')} beats champion "
            f"v{retrain.get('champion_version')}: review the promotion PR"
        )
    elif decision == "refuse":
        tail = (
            f"challenger v{retrain.get('challenger_version')} beats champion "
            f"v{retrain.get('champion_version')} but is refused: {_refusal(retrain)}; champion "
            f"v{retrain.get('champion_version')} keeps serving"
        )
    elif decision == "keep":
        # The policy's reason ends with why: "not better", "better by less than the minimum
        # improvement 0.005", "not enough evidence (...)".
        reasons = retrain.get("reasons") or []
        why = str(reasons[0]).rsplit(": ", 1)[-1] if reasons else "not better"
        tail = (
            f"challenger v{retrain.get('challenger_version')} trained and kept back ({why}): "
            f"champion v{retrain.get('champion_version')} keeps serving"
        )
    else:
        version = retrain.get("champion_version") or drift.get("model_version")
        tail = f"no retraining; champion v{version} keeps serving" if version else "no retraining"
    return f"{head}. {tail[0].upper()}{tail[1:]}."


def _refusal(retrain: dict[str, Any]) -> str:
    """Why a better challenger was refused: the failed gate, which the decision names first."""
    reasons = retrain.get("reasons") or []
    return str(reasons[0]) if reasons else "it fails a gate"


def render_issue(results: RunResults) -> IssueDraft:
    drift = results.drift or {}
    marker = issue_marker(results.model, results.period)
    sections = {
        "verdict": verdict_line(results),
        "features": _feature_section(drift),
        "prediction": _prediction_section(drift),
        "concept": _concept_section(drift),
        "performance": _performance_section(drift, results.history),
        "quality": _quality_section(drift),
        "retraining": _retrain_section(results.retrain),
        "predictions": _predict_section(results.predict),
        "operations": _operations_section(results.operations),
        "links": _links_section(results),
        "history": _history_section(results.history),
        "marker": marker,
    }
    labels = ["drift-report", "drift-detected" if drift.get("drift_detected") else "no-drift"]
    labels.append(results.model)
    return IssueDraft(
        title=f"Drift report: {results.model} {results.period}",
        labels=labels,
        body=render("issue.md.j2", results.templates_dir, sections=sections, results=results),
        marker=marker,
    )


def _feature_section(drift: dict[str, Any]) -> str:
    features = drift.get("features") or []
    if not features:
        return ""
    rows = [
        "## Feature drift",
        "",
        f"{drift.get('n_drifted_features', 0)} of {drift.get('n_features', 0)} "
        f"{'feature' if drift.get('n_features', 0) == 1 else 'features'} drifted "
        f"(share {drift.get('drift_share', 0):.0%}; drift alone retrains {_retrain_rule(drift)})."
        " Each column is tested at "
        f"p < {drift.get('per_column_threshold', 0):.3g}, i.e. a family-wise false-alarm rate of "
        f"{drift.get('feature_alpha', 0)} across all features.",
        "",
    ]
    drifted = [f for f in features if f["drifted"]]
    stable = sorted((f for f in features if not f["drifted"]), key=lambda f: -(f.get("psi") or 0.0))
    movers, rest = stable[:TOP_MOVERS], stable[TOP_MOVERS:]
    rows += _feature_table(drifted + movers)
    if rest:
        largest = max((f.get("psi") or 0.0) for f in rest)
        rows += [
            "",
            f"<details><summary>{len(rest)} more features, none drifted (largest PSI "
            f"{largest:.3f})</summary>",
            "",
            *_feature_table(rest),
            "",
            "</details>",
        ]
    for f in features:
        if f.get("text"):
            rows += ["", _text_details(f["name"], f["text"])]
    return "\n".join(rows)


TOP_MOVERS = 3  # stable features shown above the fold: those whose distributions moved most


def _feature_table(features: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| feature | test | p-value | threshold | PSI | effect size | drifted |",
        "| --- | --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for f in features:
        mark = "**yes**" if f["drifted"] else "no"
        psi = f"{f['psi']:.3f} ({f['psi_band']})" if f.get("psi") is not None else "-"
        effect = f"{f['effect']:.3f} {f['effect_name']}" if f.get("effect") is not None else "-"
        rows.append(
            f"| {f['name']} | {f['test']} | {p_value(f['score'])} | {f['threshold']:.3g} "
            f"| {psi} | {effect} | {mark} |"
        )
    return rows


def _retrain_rule(drift: dict[str, Any]) -> str:
    """The policy's rule for drift alone, from the drift result (drift.json)."""
    return retrain_rule(
        drift.get("drift_trigger", "dataset"), drift.get("drift_share_threshold", 0)
    )


def signed(value: float, digits: int = 3) -> str:
    """+0.012 or -0.012; a change that rounds to nothing is +0.000, never -0.000."""
    text = f"{value:+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text


def p_value(value: float) -> str:
    """A p-value as people read it: "< 1e-16" (not "0") below double precision's resolution."""
    return "< 1e-16" if value < 1e-16 else f"{value:.3g}"


def _new_patterns(drift: dict[str, Any]) -> str:
    """ "New patterns in `text`: wallet, airdrop, nft" for each drifted text column with any."""
    found = [
        f"New patterns in `{f['name']}`: {', '.join(f['text']['new_terms'][:8])}"
        for f in drift.get("features") or []
        if f.get("drifted") and f.get("text") and f["text"].get("new_terms")
    ]
    return "; ".join(found)


def _text_details(name: str, text: dict[str, Any]) -> str:
    tests = text.get("tests") or {}
    length = text.get("mean_length") or {}
    terms = ", ".join(text.get("new_terms") or []) or "none"
    return "\n".join(
        [
            f"Text column `{name}` (its p-value above is the smallest of four tests, "
            "Bonferroni-corrected):",
            "",
            "| test | what it compares | p-value |",
            "| --- | --- | ---: |",
            f"| domain classifier | can a classifier tell reference from current messages? "
            f"ROC AUC {text.get('domain_classifier_auc', 0.5):.3f} (0.5: no) | "
            f"{p_value(tests.get('domain_classifier', 1))} |",
            f"| vocabulary | tokens unseen in the reference: "
            f"{text.get('reference_unseen_token_share', 0):.1%} before, "
            f"{text.get('unseen_token_share', 0):.1%} now | "
            f"{p_value(tests.get('vocabulary', 1))} |",
            f"| length | mean characters {length.get('reference', 0):g} before, "
            f"{length.get('current', 0):g} now | {p_value(tests.get('length', 1))} |",
            f"| style | messages with capitals, digits, a URL or phone number | "
            f"{p_value(tests.get('style', 1))} |",
            "",
            f"Token distributions: Jensen-Shannon divergence {text.get('js_divergence', 0):.3f}. "
            f"New patterns (terms far more frequent than in the reference): {terms}.",
        ]
    )


def _prediction_section(drift: dict[str, Any]) -> str:
    prediction = drift.get("prediction_drift")
    if not prediction:
        return "## Prediction drift\n\nNot measured: no champion model to score with."
    state = "**drifted**" if prediction["detected"] else "stable"
    return (
        "## Prediction drift\n\n"
        f"Champion score distribution {state}: {prediction['test']} p-value "
        f"{p_value(prediction['score'])} (threshold {prediction['threshold']}); mean score "
        f"{prediction['reference_mean']:.3f} on "
        f"{prediction.get('reference_scores', 'the reference')}, "
        f"{prediction['current_mean']:.3f} now."
    )


def _concept_section(drift: dict[str, Any]) -> str:
    concept = drift.get("concept_drift")
    if not concept:
        return "## Concept drift\n\nNot measured: this batch has no labels."
    state = "**detected**" if concept["detected"] else "not detected"
    return (
        "## Concept drift\n\n"
        f"Concept drift {state}: champion {concept['metric']} {concept['current']:.3f} on "
        f"{concept['labelled_rows']} labelled rows vs {concept['reference']:.3f} at training "
        f"(change {signed(-concept['drop'])}; a drop of {concept['threshold']} or more counts)."
        + _at_threshold(concept.get("at_threshold") or {})
    )


def _at_threshold(metrics: dict[str, dict[str, float]]) -> str:
    """ " At the decision threshold: recall 0.427 (0.612 at training, -0.185); ..." """
    if not metrics:
        return ""
    shown = "; ".join(
        f"{name} {m['current']:.3f} ({m['reference']:.3f} at training, "
        f"{signed(m['current'] - m['reference'])})"
        for name, m in metrics.items()
    )
    return f" At the decision threshold: {shown}."


def _performance_section(drift: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """The champion's ROC AUC per period: estimated at once, realized when labels arrive."""
    rows = [h for h in history if h.get("estimated") or h.get("realized")]
    if not rows:
        return ""
    lines = ["## Performance over time", ""]
    now = drift.get("estimated_performance")
    if now:
        lines.append(
            f"Champion ROC AUC estimated from its scores on {now['rows']} rows: "
            f"**{now['value']:.3f}** ({now['confidence']:.0%} band {now['lower']:.3f} to "
            f"{now['upper']:.3f}; F1 {now['f1']:.3f} at threshold {now['threshold']})"
            + (
                f", vs {now['reference']:.3f} at training (change {signed(-now['drop'])})"
                if now.get("reference") is not None
                else ""
            )
            + f". Method {now['method'].upper()}, calibrated on the {now['calibrated_on']}. It "
            "cannot see a change of the label given the same inputs: only late labels show that."
        )
        lines.append("")
    lines += [
        "| period | version | estimated ROC AUC | band | realized ROC AUC | labelled rows "
        "| estimation error |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for h in reversed(rows):
        estimated, realized = h.get("estimated"), h.get("realized")
        version = f"v{h['model_version']}" if h.get("model_version") else "-"
        value = f"{estimated['value']:.3f}" if estimated else "-"
        band = f"{estimated['lower']:.3f} to {estimated['upper']:.3f}" if estimated else "-"
        actual = f"{realized['value']:.3f}" if realized else "not yet"
        labelled = str(realized["rows"]) if realized else "0"
        error = f"{estimated['value'] - realized['value']:+.3f}" if estimated and realized else "-"
        lines.append(
            f"| {h['period']} | {version} | {value} | {band} | {actual} | {labelled} | {error} |"
        )
    return "\n".join(lines)


def _quality_section(drift: dict[str, Any]) -> str:
    quality = drift.get("data_quality") or {}
    if not quality:
        return ""
    lines = [
        "## Data quality",
        "",
        f"- Rows: {quality.get('current_rows')} current, {quality.get('reference_rows')} "
        f"reference ({quality.get('sampled_rows')} sampled for the tests)",
        f"- Rejected rows: {quality.get('rejected_rows', 0)}",
    ]
    missing = quality.get("missing_rates") or {}
    if missing:
        shown = ", ".join(f"{k} {v:.1%}" for k, v in list(missing.items())[:8])
        lines.append(f"- Missing values: {shown}")
    else:
        lines.append("- Missing values: none")
    if quality.get("newly_missing"):
        lines.append(f"- Newly missing (complete in the reference): {quality['newly_missing']}")
    if quality.get("extra_columns"):
        lines.append(f"- Ignored unexpected columns: {', '.join(quality['extra_columns'])}")
    return "\n".join(lines)


def _retrain_section(retrain: dict[str, Any] | None) -> str:
    if not retrain:
        return "## Retraining\n\nNot run."
    lines = ["## Retraining", ""]
    shadow = retrain.get("shadow")
    from_shadow = (
        bool(shadow) and not retrain.get("retrained") and retrain.get("decision") == ("promote")
    )
    if not retrain.get("retrained") and not from_shadow:
        lines.append("Not retrained: " + "; ".join(retrain.get("reasons", [])) + ".")
        if shadow:
            lines += ["", shadow_markdown(shadow)]
        return "\n".join(lines)
    lines.append(f"Trigger: {'; '.join(retrain.get('trigger', []))}.")
    lines.append("")
    comparison = retrain.get("comparison") or {}
    challenger = comparison.get("challenger") or {}
    champion = comparison.get("champion") or {}
    if from_shadow:
        learned = "kept earlier, no new training"
    else:
        learned = f"{retrain.get('training_rows')} training rows"
    lines.append(
        f"Challenger v{retrain.get('challenger_version')} ({retrain.get('estimator')}, "
        f"{learned}) vs champion v{retrain.get('champion_version')}, on "
        f"{comparison.get('evaluated_on')}:"
    )
    lines += ["", "| metric | challenger | champion |", "| --- | ---: | ---: |"]
    for metric, value in challenger.items():
        old = champion.get(metric)
        lines.append(f"| {metric} | {value:.4f} | {'-' if old is None else f'{old:.4f}'} |")
    paired = paired_line(comparison.get("paired"))
    if paired:
        lines += ["", paired]
    windows = windows_markdown(retrain.get("windows"))
    if windows:
        lines += ["", windows]
    if shadow and not from_shadow:
        lines += ["", shadow_markdown(shadow)]
    lines += ["", f"Decision: **{retrain.get('decision')}**"]
    lines += [f"- {reason}" for reason in retrain.get("reasons", [])]
    return "\n".join(lines)


def paired_line(paired: dict[str, Any] | None) -> str:
    """The paired difference as one sentence, or "" when it was not measured."""
    if not paired:
        return ""
    return (
        f"Difference in {paired['metric']} (challenger minus champion, {paired['method']} on "
        f"the same {paired['rows']} rows): {PairedDifference(**paired).describe()}."
    )


def shadow_markdown(shadow: dict[str, Any]) -> str:
    """The kept challenger's evidence so far, in one sentence."""
    version = shadow.get("version")
    if not shadow.get("paired"):
        return f"Shadow: {'; '.join(shadow.get('reasons') or [])}."
    months = ", ".join(shadow.get("months") or [])
    measured = PairedDifference(**shadow["paired"]).describe()
    head = (
        f"Shadow: challenger v{version}, kept earlier, scored {months} beside the champion; on "
        f"their {shadow.get('rows')} labelled rows: {measured}"
    )
    if shadow.get("decision") == "promote":
        return f"{head}. It is proposed."
    why = next((r for r in shadow.get("reasons") or [] if r.startswith("challenger ")), "")
    why = why.split(": ")[-1] if why else "not better"
    return f"{head}. Not proposed yet: {why}."


def windows_markdown(windows: dict[str, Any] | None) -> str:
    """The training windows tried, as one small table, and why one was chosen."""
    if not windows:
        return ""
    candidates = windows.get("candidates") or []
    if windows.get("change_period"):
        evidence = "; ".join(windows.get("change_evidence") or [])
        opening = f"the change began in {windows['change_period']} ({evidence})."
    else:
        opening = "no change located in the labelled months."
    if len(candidates) < 2:
        return f"Training window: {opening} The challenger learned from everything matured."
    metric = windows.get("metric", "roc_auc")
    lines = [
        f"Training window: {opening} Candidates scored on {windows.get('evaluated_on')}:",
        "",
        f"| window | months | rows | validation {metric} |",
        "| --- | --- | ---: | ---: |",
    ]
    for candidate in candidates:
        name = candidate["window"]
        shown = f"**{name}** (chosen)" if name == windows.get("chosen") else name
        periods = candidate.get("periods") or []
        span = (
            "-"
            if not periods
            else periods[0] if len(periods) == 1 else (f"{periods[0]} to {periods[-1]}")
        )
        if candidate.get("with_reference"):
            span = f"champion's data + {span}" if periods else "champion's data"
        if candidate.get("weighted"):
            span += ", by recency"
        score = candidate.get("validation_score")
        value = candidate.get("note") or "-" if score is None else f"{score:.4f}"
        lines.append(f"| {shown} | {span} | {candidate['rows']} | {value} |")
    lines += ["", f"Chosen: {windows.get('why')}."]
    return "\n".join(lines)


def _predict_section(predict: dict[str, Any] | None) -> str:
    if not predict:
        return ""
    quantiles = predict.get("score_quantiles") or {}
    rate = predict.get("positive_rate")
    return (
        "## Batch prediction\n\n"
        f"Champion v{predict.get('model_version')} scored {predict.get('scored_rows')} of "
        f"{predict.get('rows')} rows ({predict.get('rejected_rows')} rejected) at "
        f"{predict.get('rows_per_second', 0):,.0f} rows/s; predicted positive rate "
        f"{'-' if rate is None else f'{rate:.1%}'}; score quantiles "
        + ", ".join(f"{k} {v:.3f}" for k, v in quantiles.items())
        + "."
    )


def _operations_section(operations: dict[str, Any] | None) -> str:
    """Rows, speed, time per step, rejections: is the pipeline itself healthy?"""
    if not operations:
        return ""
    latency = operations.get("seconds_per_1000_rows")
    steps = operations.get("step_seconds") or {}
    lines = [
        "## Operations",
        "",
        f"- Rows scored: {operations.get('scored_rows')} of {operations.get('rows')}",
        f"- Prediction latency: {'-' if latency is None else f'{latency:.3f}'} s per 1,000 rows",
        "- Processing time: "
        + (", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items()) or "-"),
        f"- Rejected rows: {operations.get('rejected_rows', 0)}",
    ]
    reasons = operations.get("rejection_reasons") or {}
    lines += [f"  - {reason}: {count}" for reason, count in list(reasons.items())[:8]]
    if operations.get("mlflow_run_id"):
        lines.append(f"- MLflow run: `{operations['mlflow_run_id']}` (step `operations`)")
    return "\n".join(lines)


def _links_section(results: RunResults) -> str:
    drift, retrain, github = results.drift or {}, results.retrain, results.github
    run_url = results.run_url
    lines = ["## Links", ""]
    pull = github.get("pull")
    if pull:
        lines.append(f"- Promotion PR: #{pull['number']} ({pull['url']})")
    if run_url:
        lines.append(f"- Workflow run: {run_url}")
        artifact = f"evidently-report-{results.model}-{results.period}"
        lines.append(f"- HTML drift report: artifact `{artifact}` of {run_url}#artifacts")
    else:
        lines.append("- Workflow run: local run (no GitHub Actions context)")
        lines.append("- HTML drift report: `drift_report.html` beside this report")
    tracking = results.tracking_uri
    for label, run in (
        ("MLflow drift run", drift.get("mlflow_run_id")),
        ("MLflow challenger run", (retrain or {}).get("challenger_run_id")),
    ):
        if not run:
            continue
        if tracking.startswith("http"):
            lines.append(f"- {label}: {tracking.rstrip('/')}/#/runs/{run}")
        else:
            lines.append(f"- {label}: `{run}` (open with `mlflow ui`)")
    return "\n".join(lines)


def _history_section(history: list[dict[str, Any]]) -> str:
    if not history:
        return ""
    shares = [100 * h["drift_share"] for h in history]
    table = ["| period | drifted features | share | verdict |", "| --- | ---: | ---: | --- |"]
    for h in reversed(history):
        verdict = "drift" if h["drift_detected"] else "no drift"
        table.append(
            f"| {h['period']} | {h['n_drifted_features']} | {h['drift_share']:.0%} | {verdict} |"
        )
    chart = xychart(
        "Share of drifted features per period (%)",
        "drifted %",
        [h["period"] for h in history],
        [("bar", shares)],
        top=100,
        digits=0,
    )
    return "## Drift history\n\n" + chart + "\n\n" + "\n".join(table)


def xychart(
    title: str,
    axis: str,
    labels: list[str],
    series: list[tuple[str, list[float]]],
    top: float,
    digits: int = 3,
) -> str:
    """A mermaid xychart (``bar`` or ``line`` series), which GitHub renders in place."""
    quoted = ", ".join(f'"{label}"' for label in labels)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f"    x-axis [{quoted}]",
        f'    y-axis "{axis}" 0 --> {top:g}',
    ]
    for kind, values in series:
        lines.append(f"    {kind} [{', '.join(f'{v:.{digits}f}' for v in values)}]")
    return "\n".join([*lines, "```"])


def pull_marker(model: str, version: int) -> str:
    return f"<!-- driftgate:promotion model={model} version={version} -->"


def render_pull(results: RunResults, issue_number: int | None) -> IssueDraft:
    """The promotion PR: challenger vs champion on the same data, the reasons, the drift issue."""
    retrain = results.retrain or {}
    version = int(retrain["challenger_version"])
    champion = retrain.get("champion_version")
    comparison = retrain.get("comparison") or {}
    new = comparison.get("challenger") or {}
    old = comparison.get("champion") or {}
    rows = []
    paired = comparison.get("paired") or {}
    for metric in sorted(new):
        before = old.get(metric)
        change = "" if before is None else f"{new[metric] - before:+.4f}"
        if metric == paired.get("metric") and before is not None:
            # The paired test's difference, from unrounded scores: what "Why" states, not the
            # difference of the two rounded figures beside it (they could differ by 0.0001).
            change = f"{paired['difference']:+.4f}"
        shown = "" if before is None else f"{before:.4f}"
        rows.append(
            {
                "metric": metric,
                "challenger": f"{new[metric]:.4f}",
                "champion": shown,
                "change": change,
            }
        )
    blocked = retrain.get("decision") == "refuse"
    marker = pull_marker(results.model, version)
    body = render(
        "pull.md.j2",
        results.templates_dir,
        model=results.model,
        period=results.period,
        version=version,
        champion=champion,
        blocked=blocked,
        refusal=_refusal(retrain) if blocked else "",
        source=f"drift report #{issue_number}" if issue_number else "the drift report",
        reasons=retrain.get("reasons", []),
        rows=rows,
        comparison=comparison,
        paired=paired_line(comparison.get("paired")),
        windows=windows_markdown(retrain.get("windows")),
        fairness=fairness_markdown(retrain.get("fairness") or {}, version, champion),
        importance=importance_markdown(retrain.get("importance")),
        issue_number=issue_number,
        marker=marker,
        results=results,
    )
    title = f"Promote {results.model} v{version} to champion"
    return IssueDraft(
        title=f"[blocked: fairness gate] {title}" if blocked else title,
        labels=["model-promotion", results.model],
        body=body,
        marker=marker,
    )


def render_failure(
    model: str, period: str, step: str, error: str, run_url: str | None, templates_dir: str = ""
) -> str:
    """A failed run, named by its step, for the period's issue (or an issue of its own)."""
    return render(
        "failure.md.j2",
        templates_dir,
        model=model,
        period=period,
        step=step,
        error=error,
        run_url=run_url,
    )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ratio(value: float | None, upper: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if upper is None else f"{value:.2f} (≤{upper:.2f})"


# What a text-only model's PR and card say instead of empty tables.
NOT_APPLICABLE = "not_applicable"
TEXT_ONLY_FAIRNESS = (
    "Not applicable: the model's only input is the message text, and no attribute of the "
    "sender (age, gender, region) is known, so there are no groups to compare."
)
TEXT_ONLY_IMPORTANCE = (
    "Not applicable: the model has one input, the message text; shuffling it says nothing a "
    "reader can act on. What the model reacts to shows in the drift issue's text tests and new "
    "terms instead."
)


def text_only_facts() -> tuple[dict[str, Any], dict[str, Any]]:
    """The fairness and importance documents of a text-only model: why neither applies."""
    return {NOT_APPLICABLE: TEXT_ONLY_FAIRNESS}, {NOT_APPLICABLE: TEXT_ONLY_IMPORTANCE}


def fairness_markdown(
    sides: dict[str, Any], version: int | None = None, champion: int | None = None
) -> str:
    """Per-group selection rate, TPR and FPR (challenger and, when there is one, champion)."""
    if sides.get(NOT_APPLICABLE):
        return str(sides[NOT_APPLICABLE])
    challenger = sides.get("challenger") or {}
    before = sides.get("champion") or {}
    if not challenger.get("attributes"):
        missing = challenger.get("missing") or []
        if missing:
            return f"Not measured: {', '.join(missing)} not in the comparison data."
        return "Not measured: no sensitive attributes are configured for this model."
    old_groups = {
        (a["attribute"], g["group"]): g
        for a in before.get("attributes", [])
        for g in a.get("groups", [])
    }
    old_ratios = {a["attribute"]: a.get("ratios", {}) for a in before.get("attributes", [])}
    old_uppers = {a["attribute"]: a.get("ratio_upper", {}) for a in before.get("attributes", [])}
    new, old = f"v{version}" if version else "challenger", (
        f"v{champion}" if champion else "champion"
    )
    paired = bool(before)
    header = "| attribute | group | rows | selection rate | TPR | FPR |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: |"
    if paired:
        header = (
            f"| attribute | group | rows | selection rate {new} | {old} | TPR {new} | {old} "
            f"| FPR {new} | {old} |"
        )
        rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    lines = [f"Measured on {challenger.get('evaluated_on', 'the comparison rows')}.", "", header]
    lines.append(rule)
    for attribute in challenger["attributes"]:
        name = attribute["attribute"]
        for g in attribute["groups"]:
            cells = [name, g["group"], str(g["rows"])]
            if paired:
                o = old_groups.get((name, g["group"]), {})
                cells += [_rate(g["selection_rate"]), _rate(o.get("selection_rate"))]
                cells += [
                    _rate(g["tpr"]),
                    _rate(o.get("tpr")),
                    _rate(g["fpr"]),
                    _rate(o.get("fpr")),
                ]
            else:
                cells += [_rate(g["selection_rate"]), _rate(g["tpr"]), _rate(g["fpr"])]
            lines.append("| " + " | ".join(cells) + " |")
        ratios, uppers = attribute.get("ratios", {}), attribute.get("ratio_upper", {})
        cells = [f"**{name}**", "ratio (min/max, ≤ 95% bound)", ""]
        if paired:
            o, o_upper = old_ratios.get(name, {}), old_uppers.get(name, {})
            for rate in FAIRNESS_RATES:
                cells += [
                    _ratio(ratios.get(rate), uppers.get(rate)),
                    _ratio(o.get(rate), o_upper.get(rate)),
                ]
        else:
            cells += [_ratio(ratios.get(rate), uppers.get(rate)) for rate in FAIRNESS_RATES]
        lines.append("| " + " | ".join(cells) + " |")
    small = [
        f"{a['attribute']} {g}" for a in challenger["attributes"] for g in a.get("small_groups", [])
    ]
    if small:
        lines += ["", f"Too few rows to enter the ratios: {', '.join(small)}."]
    return "\n".join(lines)


def importance_markdown(stability: dict[str, Any] | None, top: int = 10) -> str:
    """Permutation importance of both models on the same rows, rank correlation, biggest movers."""
    if stability and stability.get(NOT_APPLICABLE):
        return str(stability[NOT_APPLICABLE])
    if not stability or not stability.get("challenger"):
        return "Not measured."
    new = stability["challenger"]
    old = {f["feature"]: f for f in stability.get("champion") or []}
    rho = stability.get("rank_correlation")
    new_name = f"v{stability.get('challenger_version')}"
    old_name = f"v{stability.get('champion_version')}"
    lines = [
        f"Permutation importance (drop in ROC AUC when the column is shuffled) on "
        f"{stability.get('evaluated_on')}.",
        "",
    ]
    if rho is None:
        lines.append("No champion to compare with: the ranking below is the model's own.")
    else:
        steady = "stable" if rho >= 0.8 else "moderately stable" if rho >= 0.5 else "unstable"
        lines.append(
            f"Rank correlation (Spearman) between {old_name} and {new_name}: **{rho:.2f}** "
            f"({steady})."
        )
        movers = stability.get("movers") or []
        if movers:
            moved = ", ".join(
                f"{m['feature']} ({m['champion_rank']} -> {m['challenger_rank']})" for m in movers
            )
            lines.append(f"Biggest rank moves ({old_name} -> {new_name}): {moved}.")
    lines += ["", f"| rank | feature | importance {new_name} | rank {old_name} |"]
    lines.append("| ---: | --- | ---: | ---: |")
    for f in new[:top]:
        before = old.get(f["feature"])
        lines.append(
            f"| {f['rank']} | {f['feature']} | {f['mean']:.4f} ± {f['std']:.4f} "
            f"| {before['rank'] if before else '-'} |"
        )
    return "\n".join(lines)


def report_banner(drift: dict[str, Any], templates_dir: str = "") -> str:
    """Driftgate's verdict, reasons and per-column results (drifted first), as HTML.

    Put at the top of Evidently's report so that it says what the issue says: Evidently's own
    per-column tests below round their thresholds; this is the verdict the issue, the workflow
    and retraining use.
    """
    features = [
        {
            "name": f["name"],
            "test": f["test"],
            "p_value": p_value(f["score"]),
            "threshold": f"{f['threshold']:.3g}",
            "psi": f"{f['psi']:.3f} ({f['psi_band']})" if f.get("psi") is not None else "-",
            "drifted": "DRIFTED" if f["drifted"] else "no",
        }
        for f in drift.get("features") or []
    ]
    return render(
        "banner.html.j2",
        templates_dir,
        drift=drift,
        features=features,
        retrain_rule=_retrain_rule(drift),
    )


def report_without_evidently(title: str) -> str:
    """The HTML report of a month Evidently had nothing to test in: the verdict goes on top."""
    import html

    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        '<p style="font-family:sans-serif;margin:16px">Evidently had nothing to test this month:'
        " the model's features are text, which Driftgate's own text test covers above, and"
        " there is no champion whose scores it could compare.</p></body></html>"
    )


def with_banner(report_html: str, drift: dict[str, Any], templates_dir: str = "") -> str:
    """Evidently's HTML with Driftgate's verdict first in its body."""
    banner = report_banner(drift, templates_dir)
    at = report_html.find("<body")
    if at < 0:
        return banner + report_html
    end = report_html.find(">", at) + 1
    return report_html[:end] + banner + report_html[end:]
