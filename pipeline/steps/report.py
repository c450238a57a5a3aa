"""`pipeline report`: the operational metrics, then the drift issue and the promotion PR.

Also the failure report a failing run leaves on the period's issue.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.config import GitHubTarget, ModelConfig, Settings
from pipeline.edges.alerts import alert_text, send_alert
from pipeline.edges.github import PublishedItem
from pipeline.edges.registry import ISSUE_TAG, PULL_TAG, Registry
from pipeline.errors import first_line
from pipeline.model.predict import SUMMARY_FILE
from pipeline.monitoring.drift import DRIFT_FILE
from pipeline.reporting.operations import OPERATIONS_FILE, TIMINGS_FILE, operations
from pipeline.reporting.publish import Publication, publish_failure, publish_report
from pipeline.results import read_json, read_json_if_exists, set_step_outputs, write_json_atomic
from pipeline.steps.retrain import RETRAIN_FILE

log = logging.getLogger("pipeline")


def report_step(
    settings: Settings,
    config: ModelConfig,
    out_dir: Path,
    dry_run: bool = True,
    target: GitHubTarget | None = None,
) -> Publication:
    """The drift issue (and the promotion PR on a promote decision), from the JSON results."""
    target = target or GitHubTarget.from_env()
    if not dry_run:
        target.require()
    registry = Registry(settings, config)
    _log_operations(registry, out_dir)
    publication = publish_report(settings, config, out_dir, target, dry_run)
    if publication.issue is not None:
        _link_record(registry, out_dir, publication.issue, publication.pull)
    set_step_outputs(
        {
            "issue_number": publication.issue.number if publication.issue else "",
            "pull_number": publication.pull.number if publication.pull else "",
        }
    )
    return publication


def _log_operations(registry: Registry, out_dir: Path) -> None:
    """The run's operational metrics: one MLflow ``operations`` run, and ``operations.json``."""

    summary = operations(
        *(read_json_if_exists(out_dir / name) for name in (SUMMARY_FILE, DRIFT_FILE, TIMINGS_FILE))
    )
    reasons = json.dumps(summary.rejection_reasons)[:6000]
    summary.mlflow_run_id = registry.log_run(
        "operations",
        summary.metrics(),
        {"rejection_reasons": reasons, "model_version": str(summary.model_version or "-")},
        {"driftgate.period": out_dir.name},
    )
    write_json_atomic(out_dir / OPERATIONS_FILE, summary)


def _link_record(
    registry: Registry, out_dir: Path, issue_item: PublishedItem, pull_item: PublishedItem | None
) -> None:
    """Tag the period's drift run and challenger with the issue and PR that published them."""
    issue = f"issue #{issue_item.number}"
    pull = f"PR #{pull_item.number}" if pull_item else ""
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


def report_failure(
    config: ModelConfig,
    period: str,
    step: str,
    error: BaseException,
    target: GitHubTarget,
    templates_dir: str = "",
) -> None:
    """Best effort: a failure report that itself fails must not hide the original error."""
    try:
        item = publish_failure(config, period, step, first_line(error), target, templates_dir)
        log.info("failure reported on #%d", item.number)
        send_alert(alert_text(config.name, period, f"run failed at step {step}", item.url))
    except Exception as report_error:  # noqa: BLE001
        log.warning("could not report the failure on GitHub: %s", report_error)


def report_failure_step(
    config: ModelConfig,
    period: str,
    step: str,
    message: str,
    target: GitHubTarget | None = None,
    templates_dir: str = "",
) -> PublishedItem:
    """`pipeline report --failed-step`: what the workflow's failure job calls."""
    target = target or GitHubTarget.from_env()
    target.require()
    return publish_failure(config, period, step, message, target, templates_dir)
