"""The monthly cycle's steps (train, predict, drift, retrain, report, promote, rollback).

Each step reads its inputs from files or MLflow, writes one JSON result, and returns it; the CLI
calls a step per command and ``run_cycle`` calls them in the order the workflow does.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.data import read_batch, write_frame
from pipeline.errors import DataError, GateError, RegistryError, first_line
from pipeline.github import GitHubTarget
from pipeline.operations import OPERATIONS_FILE, TIMINGS_FILE, operations, record_seconds
from pipeline.registry import (
    CHAMPION,
    TRAINING_DATA_TAG,
    AliasMove,
    ModelVersionInfo,
    Registry,
    record_tag,
)
from pipeline.results import (
    append_jsonl,
    read_json,
    set_step_outputs,
    staged_outputs,
    to_jsonable,
    write_json_atomic,
)
from pipeline.schema import validate_batch

if TYPE_CHECKING:
    from pipeline.publish import Publication

log = logging.getLogger("pipeline")


def current_period() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m")


def period_seed(period: str) -> int:
    digits = "".join(ch for ch in period if ch.isdigit())
    return int(digits) if digits else 0


def generate_batch(
    settings: Settings,
    config: ModelConfig,
    out: Path,
    rows: int,
    seed: int,
    drift: str = "none",
    labels: bool = True,
    start_id: int = 1,
) -> Path:
    from pipeline.synthetic import generate

    frame = generate(config, rows, seed, drift=drift, start_id=start_id, labels=labels)
    with staged_outputs(out.parent) as outputs:
        write_frame(outputs, out.name, frame)
    return out


def train_step(
    settings: Settings,
    config: ModelConfig,
    data: Path | None,
    seed: int = 0,
    reason: str = "manual training",
) -> ModelVersionInfo:
    from pipeline.train import train

    if data is None:
        data = settings.path(settings.data_dir) / config.name / "training.parquet"
        log.info("no --data given: generating %d synthetic training rows", config.training_rows)
        generate_batch(settings, config, data, config.training_rows, seed)
    batch = validate_batch(read_batch(data), config, str(data))
    outcome = train(config, batch.frame, seed)
    registry = Registry(settings, config)
    source = {TRAINING_DATA_TAG: f"{data.name}: {len(batch.frame)} rows"}
    return registry.log_training(outcome, batch.frame, reason=reason, tags=source)


def predict_step(settings: Settings, config: ModelConfig, source: Path, out_dir: Path) -> Any:
    from pipeline.predict import SUMMARY_FILE, predict_file

    started = time.perf_counter()
    registry = Registry(settings, config)
    champion = registry.require_alias(CHAMPION)
    model = registry.load_model(champion)
    summary = predict_file(
        model,
        config,
        champion.version,
        champion.run_id,
        source,
        out_dir,
        settings.predict_chunk_rows,
    )
    append_jsonl(
        settings.path(settings.output_dir) / config.name / "prediction_log.jsonl",
        {
            "period": out_dir.name,
            "model_version": summary.model_version,
            "rows": summary.rows,
            "scored_rows": summary.scored_rows,
            "positive_rate": summary.positive_rate,
            "mean_score": summary.mean_score,
            "created_at": summary.created_at,
        },
    )
    latency = 1000 * summary.seconds / summary.rows if summary.rows else 0.0
    registry.log_run(
        "predict",
        {
            "rows": summary.rows,
            "scored_rows": summary.scored_rows,
            "rejected_rows": summary.rejected_rows,
            "rows_per_second": summary.rows_per_second,
            "seconds_per_1000_rows": latency,
            "positive_rate": summary.positive_rate or 0.0,
        },
        {"model_version": str(summary.model_version)},
        {"driftgate.period": out_dir.name},
    )
    set_step_outputs({"rows": summary.rows, "positive_rate": summary.positive_rate})
    log.info("predictions written to %s", out_dir / SUMMARY_FILE)
    record_seconds(out_dir, "predict", started)
    return summary


def drift_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    reference: Path | None = None,
) -> Any:
    from pipeline.drift import DRIFT_FILE, HTML_FILE, detect_drift

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
    from pipeline.retrain import should_retrain

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


def _period_performance(concept: Any) -> dict[str, float]:
    if concept is None:
        return {}
    return {
        f"champion_{concept.metric}": concept.current,
        f"reference_{concept.metric}": concept.reference,
        "labelled_rows": float(concept.labelled_rows),
    }


def retrain_step(
    settings: Settings,
    config: ModelConfig,
    current: Path,
    out_dir: Path,
    force: bool = False,
) -> Any:
    from pipeline.drift import DRIFT_FILE
    from pipeline.retrain import RETRAIN_FILE, run_retrain

    started = time.perf_counter()

    drift = read_json(out_dir / DRIFT_FILE) if (out_dir / DRIFT_FILE).exists() else {}
    if not drift and not force:
        raise RegistryError(f"{out_dir / DRIFT_FILE} does not exist: run `pipeline drift` first")
    registry = Registry(settings, config)
    digest = file_digest(current)
    result = None if force else _earlier_challenger(registry, out_dir / RETRAIN_FILE, digest)
    if result is None:
        batch = validate_batch(read_batch(current), config, str(current))
        result = run_retrain(
            registry,
            config,
            batch,
            drift,
            out_dir / RETRAIN_FILE,
            force=force,
            period=out_dir.name,
            batch_digest=digest,
        )
        if drift.get("mlflow_run_id"):  # the retrain verdict joins the period's drift verdict
            verdict = "retrain" if result.retrained else "skip"
            registry.record(verdict, result.trigger, run_id=str(drift["mlflow_run_id"]))
    if result.decision in ("promote", "refuse") and result.challenger_version:
        # The promotion PR's card is rendered from this file, as the issue is from the others.
        from pipeline.cards import CARD_FILE, gather_card_facts

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


def _earlier_challenger(registry: Registry, path: Path, digest: str) -> Any:
    """This period's challenger when the same batch was already retrained on (a re-run).

    Re-running a period must not register another version or open another promotion PR.
    """
    from pipeline.retrain import RetrainResult

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
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def report_step(
    settings: Settings,
    config: ModelConfig,
    out_dir: Path,
    dry_run: bool = True,
    target: GitHubTarget | None = None,
) -> Publication:
    """The drift issue (and the promotion PR on a promote decision), from the JSON results."""
    from pipeline.publish import publish_report

    target = target or GitHubTarget.from_env()
    if not dry_run:
        target.require()
    registry = Registry(settings, config)
    _log_operations(registry, out_dir)
    publication = publish_report(settings, config, out_dir, target, dry_run)
    if publication.issue is not None:
        _link_record(registry, out_dir, publication)
    set_step_outputs(
        {
            "issue_number": publication.issue.number if publication.issue else "",
            "pull_number": publication.pull.number if publication.pull else "",
        }
    )
    return publication


def _log_operations(registry: Registry, out_dir: Path) -> None:
    """The run's operational metrics: one MLflow ``operations`` run, and ``operations.json``."""
    from pipeline.drift import DRIFT_FILE
    from pipeline.predict import SUMMARY_FILE

    def found(name: str) -> dict[str, Any]:
        return read_json(out_dir / name) if (out_dir / name).exists() else {}

    summary = operations(found(SUMMARY_FILE), found(DRIFT_FILE), found(TIMINGS_FILE))
    reasons = json.dumps(summary.rejection_reasons)[:6000]
    summary.mlflow_run_id = registry.log_run(
        "operations",
        summary.metrics(),
        {"rejection_reasons": reasons, "model_version": str(summary.model_version or "-")},
        {"driftgate.period": out_dir.name},
    )
    write_json_atomic(out_dir / OPERATIONS_FILE, summary)


def _link_record(registry: Registry, out_dir: Path, publication: Any) -> None:
    """Tag the period's drift run and challenger with the issue and PR that published them."""
    from pipeline.drift import DRIFT_FILE
    from pipeline.registry import ISSUE_TAG, PULL_TAG
    from pipeline.retrain import RETRAIN_FILE

    issue = f"issue #{publication.issue.number}"
    pull = f"PR #{publication.pull.number}" if publication.pull else ""
    if (out_dir / DRIFT_FILE).exists():
        run_id = read_json(out_dir / DRIFT_FILE).get("mlflow_run_id")
        if run_id:
            registry.add_to_run(str(run_id), tags={ISSUE_TAG: issue})
    if (out_dir / RETRAIN_FILE).exists():
        version = read_json(out_dir / RETRAIN_FILE).get("challenger_version")
        if version:
            registry.tag_version(int(version), ISSUE_TAG, issue)
            if pull:
                registry.tag_version(int(version), PULL_TAG, pull)


def promote_step(
    settings: Settings,
    config: ModelConfig,
    version: int | None = None,
    run_id: str | None = None,
    reason: str = "manual promotion",
    source: str = "command line",
) -> AliasMove:
    """Re-check the metric gates on the version's held-out test metrics, then move ``champion``."""
    registry = Registry(settings, config)
    if run_id:
        target = registry.by_run_id(run_id)
    elif version is not None:
        target = registry.version(version)
    else:
        raise GateError("name the version to promote with --model-version N or --run-id ID")
    from pipeline.policy import version_gates

    current = registry.by_alias(CHAMPION)
    if current is not None and current.version == target.version:
        return registry.promote(target.version, reason, source)  # nothing moves: no gate to pass
    failed, _ = version_gates(target.metrics, config.thresholds, config.fairness, target.version)
    if failed:
        registry.tag_version(target.version, "driftgate.promotion_refused", "; ".join(failed))
        registry.record("refuse", failed, source, version=target.version)
        raise GateError(f"version {target.version} of '{config.name}' refused: {'; '.join(failed)}")
    return registry.promote(target.version, reason, source)


@dataclass
class CardUpdate:
    model: str
    path: str
    version: int
    changed: bool
    sections: list[str]


def card_step(settings: Settings, config: ModelConfig, version: int | None = None) -> CardUpdate:
    """Regenerate the card's generated sections from MLflow; hand-written text is not touched.

    The sections describe ``version``, else the champion the card names, else the registry's.
    """
    from pipeline.cards import (
        GENERATED,
        card_path,
        gather_card_facts,
        new_card,
        read_card,
        refresh_card,
        render_card,
        section,
    )

    directory = settings.path(settings.model_cards_dir)
    path = card_path(directory, config.name)
    card = (
        read_card(directory, config.name)
        if path.exists()
        else new_card(config.name, config.description)
    )
    registry = Registry(settings, config)
    if version is None:
        version = card.champion.version
    if version is None:
        champion = registry.by_alias(CHAMPION)
        if champion is None:
            raise GateError(
                f"{path} names no champion and '{config.name}' has none in MLflow: "
                "train a model first, or pass --model-version N"
            )
        version = champion.version
    updated = refresh_card(card, gather_card_facts(registry, config, version))
    text = render_card(updated)
    changed = not path.exists() or path.read_text(encoding="utf-8") != text
    if changed:
        with staged_outputs(path.parent) as outputs:
            outputs.write_text(path.name, text)
    names = [name for name in GENERATED if section(card.body, name) != section(updated.body, name)]
    return CardUpdate(config.name, str(path), version, changed, names)


def rollback_step(settings: Settings, config: ModelConfig, reason: str) -> AliasMove:
    return Registry(settings, config).rollback(reason)


CYCLE_STEPS = ("predict", "drift", "retrain", "report")


@dataclass
class CycleResult:
    model: str
    period: str
    out_dir: str
    batch: str
    steps: list[str]
    bootstrapped_version: int | None
    drift_detected: bool | None = None
    retrain_decision: str | None = None
    issue_title: str | None = None
    issue_url: str | None = None
    pull_url: str | None = None


def parse_steps(text: str) -> tuple[str, ...]:
    """``predict,drift`` -> the steps in cycle order; unknown names are a one-line error."""
    from pipeline.errors import ConfigError

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CYCLE_STEPS]
    if unknown or not names:
        raise ConfigError(
            f"unknown step(s) {', '.join(repr(n) for n in unknown) or '(none given)'}; "
            f"choose from {','.join(CYCLE_STEPS)}"
        )
    return tuple(step for step in CYCLE_STEPS if step in names)


def run_cycle(
    settings: Settings,
    config: ModelConfig,
    period: str,
    simulate_drift: bool = False,
    force_retrain: bool = False,
    current: Path | None = None,
    dry_run: bool = True,
    target: GitHubTarget | None = None,
    steps: tuple[str, ...] = CYCLE_STEPS,
) -> CycleResult:
    """Predict, detect drift, retrain when the policy says so, and report.

    ``steps`` runs part of the cycle, as the workflow's jobs do (each job one step, the results
    handed on in the output folder). Outside a dry run a failing step is reported on GitHub too
    (named, with the run's link) before the error reaches the caller; a missing token fails
    before any work is done.
    """
    from pipeline.alerts import alert_text, send_alert

    target = target or GitHubTarget.from_env()
    if not dry_run and "report" in steps:
        target.require()
    step = "bootstrap"
    try:
        registry = Registry(settings, config)
        bootstrapped = None
        if registry.by_alias(CHAMPION) is None:
            log.info("model '%s' has no champion yet: training the first version", config.name)
            bootstrapped = train_step(settings, config, None, reason="first version").version
        out_dir = settings.output_dir_for(config.name, period)
        if current is None:
            step = "data"
            kind = "mixed" if simulate_drift else "none"
            current = settings.path(settings.data_dir) / config.name / f"{period}-{kind}.csv"
            if current.exists():
                log.info("using the %s batch generated earlier: %s", period, current)
            else:
                log.info("no --current given: generating the %s batch (%s drift)", period, kind)
                seed = period_seed(period)
                generate_batch(
                    settings, config, current, config.batch_rows, seed, kind, start_id=seed * 10
                )
        result = CycleResult(
            model=config.name,
            period=period,
            out_dir=str(out_dir),
            batch=str(current),
            steps=list(steps),
            bootstrapped_version=bootstrapped,
        )
        publication = None
        for number, step in enumerate(steps, start=1):
            log.info("step %d/%d: %s", number, len(steps), step)
            if step == "predict":
                predict_step(settings, config, current, out_dir)
            elif step == "drift":
                result.drift_detected = drift_step(
                    settings, config, current, out_dir
                ).drift_detected
            elif step == "retrain":
                retrain = retrain_step(settings, config, current, out_dir, force=force_retrain)
                result.retrain_decision = retrain.decision
            elif step == "report":
                publication = report_step(settings, config, out_dir, dry_run=dry_run, target=target)
    except Exception as error:
        if not dry_run:
            _report_failure(config, period, step, error, target)
        raise
    if publication is not None:
        link = publication.issue.url if publication.issue else None
        send_alert(alert_text(config.name, period, publication.verdict.replace("**", ""), link))
        result.issue_title = publication.title
        result.issue_url = link
        result.pull_url = publication.pull.url if publication.pull else None
    write_json_atomic(out_dir / "cycle.json", to_jsonable(result))
    # The workflow's later jobs run their steps on the same period and batch.
    set_step_outputs({"period": period, "batch": _relative(current, settings.project_root)})
    return result


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _report_failure(
    config: ModelConfig, period: str, step: str, error: BaseException, target: GitHubTarget
) -> None:
    """Best effort: a failure report that itself fails must not hide the original error."""
    from pipeline.alerts import alert_text, send_alert
    from pipeline.publish import publish_failure

    try:
        item = publish_failure(config, period, step, first_line(error), target)
        log.info("failure reported on #%d", item.number)
        send_alert(alert_text(config.name, period, f"run failed at step {step}", item.url))
    except Exception as report_error:  # noqa: BLE001
        log.warning("could not report the failure on GitHub: %s", report_error)


def report_failure_step(
    config: ModelConfig, period: str, step: str, message: str, target: GitHubTarget | None = None
) -> Any:
    """`pipeline report --failed-step`: what the workflow's failure job calls."""
    from pipeline.publish import publish_failure

    target = target or GitHubTarget.from_env()
    target.require()
    return publish_failure(config, period, step, message, target)


@dataclass
class EventPromotion:
    model: str
    pull_number: int
    decision: str
    reasons: list[str]
    version: int | None
    move: AliasMove | None
    comment_url: str | None


def promote_from_event(
    settings: Settings,
    config: ModelConfig,
    event_path: Path,
    target: GitHubTarget | None = None,
    dry_run: bool = False,
) -> EventPromotion:
    """Promote the version a merged promotion PR's card names, after re-checking every gate.

    The outcome is commented on the PR either way; a refusal names its gate and exits non-zero.
    """
    from pipeline.cards import read_card
    from pipeline.policy import MergedPullFacts, merged_pull_decision
    from pipeline.schema import signature_problems

    target = target or GitHubTarget.from_env()
    if not dry_run:
        target.require()
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
        pull = event["pull_request"]
        number = int(pull["number"])
    except FileNotFoundError:
        raise DataError(f"event file {event_path} does not exist") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{event_path} is not a pull_request event ({type(error).__name__}: {error})"
        ) from None
    card = read_card(settings.path(settings.model_cards_dir), config.name)
    version = card.champion.version
    registry = Registry(settings, config)
    exists, metrics, problems = False, {}, []
    if version is not None:
        try:
            info = registry.version(version)
            exists, metrics = True, info.metrics
        except RegistryError:
            exists = False
    if exists and version is not None:
        champion = registry.by_alias(CHAMPION)
        if champion is not None and champion.version != version:
            problems = signature_problems(
                registry.input_schema(champion.version), registry.input_schema(version)
            )
    repository = event.get("repository") or {}
    facts = MergedPullFacts(
        action=str(event.get("action", "")),
        merged=bool(pull.get("merged")),
        base_ref=str((pull.get("base") or {}).get("ref", "")),
        default_branch=str(repository.get("default_branch") or "main"),
        labels=[str(label.get("name")) for label in pull.get("labels") or []],
        card_version=version,
        version_exists=exists,
        version_metrics=metrics,
        schema_problems=problems,
    )
    decision = merged_pull_decision(facts, config.thresholds, config.fairness)
    move = None
    if decision.outcome == "promote" and version is not None:
        move = registry.promote(version, f"PR #{number} merged", source=f"PR #{number}")
        registry.tag_version(version, "driftgate.promoted_by_pr", str(number))
        body = (
            f"Promoted **{config.name} v{version}** to `champion`"
            + (f" (v{move.previous} kept as `previous`)" if move.previous else "")
            + (". " if move.changed else " (it already was: nothing to do). ")
            + "Gates re-checked:\n\n"
            + "\n".join(f"- {reason}" for reason in decision.reasons)
        )
    else:
        if version is not None and exists:
            registry.tag_version(version, "driftgate.promotion_refused", decision.reasons[0])
            registry.record("refuse", decision.reasons, f"PR #{number}", version=version)
        body = (
            f"**Not promoted**: {' '.join(decision.reasons)}.\n\n"
            f"The registry is unchanged; `champion` stays where it was."
        )
    comment_url = None
    if dry_run:
        print(f"--- comment on PR #{number} (dry run) ---\n{body}", file=sys.stderr)
    else:
        from pipeline.github import GitHub

        comment_url = GitHub(target).comment(number, body)
    result = EventPromotion(
        config.name, number, decision.outcome, decision.reasons, version, move, comment_url
    )
    set_step_outputs({"promoted": decision.outcome == "promote", "version": version or ""})
    if decision.outcome != "promote":
        raise GateError(f"PR #{number} did not promote {config.name}: {decision.reasons[0]}")
    return result


@dataclass
class Dispatch:
    model: str
    workflow: str
    ref: str
    dispatched: bool


def dispatch_step(
    settings: Settings,
    workflow: str,
    ref: str | None = None,
    target: GitHubTarget | None = None,
    dry_run: bool = False,
) -> list[Dispatch]:
    """Start ``workflow`` once per configured model: the schedule that covers every model.

    A model added to pyproject.toml is run the next month with no workflow change.
    """
    target = target or GitHubTarget.from_env()
    names = sorted(settings.models)
    if dry_run:
        for name in names:
            print(
                f"would dispatch {workflow} on {ref or 'the default branch'} for {name}",
                file=sys.stderr,
            )
        return [Dispatch(name, workflow, ref or "", False) for name in names]
    from pipeline.github import GitHub

    github = GitHub(target)
    branch = ref or github.default_branch
    dispatched = []
    for name in names:
        github.dispatch_workflow(workflow, branch, {"model": name})
        dispatched.append(Dispatch(name, workflow, branch, True))
    return dispatched


def event_model(event_path: Path, models: Any) -> str | None:
    """The configured model a promotion PR's branch names, or None (then the default applies)."""
    import re

    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
        head = str(event["pull_request"]["head"]["ref"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # promote_from_event reports the unreadable event properly
    match = re.fullmatch(r"promote/(.+)-v\d+", head)
    return match.group(1) if match and match.group(1) in models else None


def sync_step(settings: Settings, models: list[ModelConfig]) -> list[AliasMove]:
    """GitOps reconcile: make each registry's champion the version its model card names.

    Reverting a promotion PR's card change and syncing is a rollback. Idempotent.
    """
    from pipeline.cards import read_card

    moves = []
    for config in models:
        card = read_card(settings.path(settings.model_cards_dir), config.name)
        if card.champion.version is None:
            log.info("card of '%s' names no champion yet: nothing to sync", config.name)
            continue
        # The card is the desired state, but a hand-edited card is not a way around the gates:
        # sync moves the alias through the same checks as `promote`.
        moves.append(
            promote_step(
                settings,
                config,
                version=card.champion.version,
                reason=f"sync: model card names v{card.champion.version}",
                source="model card (sync)",
            )
        )
    return moves
