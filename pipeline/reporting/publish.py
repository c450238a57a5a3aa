"""What a run sends to GitHub and in which order: the drift issue, the promotion PR, failures.

Only the JSON results of the run are read (through ``report``); GitHub calls go through
``pipeline.edges.github`` and every one of them is idempotent, so re-running a period updates
the same issue and PR. ``--dry-run`` prints the title, labels and body and calls nothing.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import GitHubTarget, ModelConfig, Settings
from pipeline.edges.github import DRIFT_LABEL, FAILURE_LABEL, GitHub, PublishedItem
from pipeline.reporting.cards import (
    CardFacts,
    new_card,
    parse_card,
    refresh_card,
    render_card,
    with_champion,
)
from pipeline.reporting.report import (
    GITHUB_FILE,
    ISSUE_JSON,
    ISSUE_MARKDOWN,
    PULL_CARD,
    PULL_MARKDOWN,
    IssueDraft,
    RunResults,
    issue_marker,
    load_results,
    render_failure,
    render_issue,
    render_pull,
    verdict_line,
)
from pipeline.results import staged_outputs, to_jsonable, write_json_atomic

log = logging.getLogger("pipeline")


@dataclass
class Publication:
    title: str
    labels: list[str]
    verdict: str
    dry_run: bool
    issue: PublishedItem | None = None
    pull: PublishedItem | None = None
    pull_title: str | None = None
    card_path: str | None = None


def _print_draft(kind: str, draft: IssueDraft) -> None:
    # The preview goes to stderr: stdout carries the command's JSON result.
    print(f"--- {kind} (dry run: nothing sent) ---", file=sys.stderr)
    print(f"title: {draft.title}", file=sys.stderr)
    print(f"labels: {', '.join(draft.labels)}", file=sys.stderr)
    print(draft.body, file=sys.stderr)


def publish_report(
    settings: Settings,
    config: ModelConfig,
    out_dir: Path,
    target: GitHubTarget,
    dry_run: bool,
) -> Publication:
    """Render the issue (and PR) from ``out_dir``'s results; publish unless ``dry_run``."""
    results = load_results(
        out_dir,
        config.name,
        out_dir.name,
        target.run_url,
        settings.mlflow_tracking_uri.replace("{model}", config.name),
        settings.templates_folder(),
    )
    results.github = {}  # links are added below from what this run publishes
    draft = render_issue(results)
    # A refused challenger (better, but failing the fairness gate) gets a draft PR that says why.
    promote = (results.retrain or {}).get("decision") in ("promote", "refuse")
    pull_draft = render_pull(results, None) if promote else None
    with staged_outputs(out_dir) as outputs:
        outputs.write_text(ISSUE_MARKDOWN, draft.body)
        outputs.write_json(ISSUE_JSON, draft)
        if pull_draft is not None:
            outputs.write_text(PULL_MARKDOWN, pull_draft.body)
            if dry_run:
                # The card the PR would commit, from the local card: what a played merge applies.
                local = settings.path(settings.model_cards_dir) / f"{config.name}.md"
                text = local.read_text(encoding="utf-8") if local.exists() else None
                card = promotion_card(config, results, text, str(local), None, None)
                outputs.write_text(PULL_CARD, card)
    publication = Publication(draft.title, draft.labels, verdict_line(results), dry_run)
    if pull_draft is not None:
        publication.pull_title = pull_draft.title
    if dry_run:
        _print_draft("issue", draft)
        if pull_draft is not None:
            _print_draft("promotion PR", pull_draft)
        return publication

    github = GitHub(target)
    publication.issue = github.upsert_issue(
        draft.title, draft.body, draft.labels, draft.marker, DRIFT_LABEL
    )
    log.info("drift issue #%d %s", publication.issue.number, publication.issue.action)
    links: dict[str, Any] = {"issue": to_jsonable(publication.issue)}
    if promote:
        pull, path = _open_promotion_pull(settings, config, results, github, publication.issue)
        publication.pull, publication.card_path = pull, path
        links["pull"] = to_jsonable(pull)
    write_json_atomic(out_dir / GITHUB_FILE, links)
    if publication.pull is not None:
        # The issue links the PR: re-render from the results, now including github.json.
        results.github = links
        github.edit_issue_body(publication.issue.number, render_issue(results).body)
    return publication


def _open_promotion_pull(
    settings: Settings,
    config: ModelConfig,
    results: RunResults,
    github: GitHub,
    issue: PublishedItem,
) -> tuple[PublishedItem, str]:
    retrain = results.retrain or {}
    version = int(retrain["challenger_version"])
    base = github.default_branch
    branch = f"promote/{config.name}-v{version}"
    path = settings.card_repo_path(config.name)
    text = github.read_file(path, base)

    def card_text(pr: int | None) -> str:
        return promotion_card(config, results, text, f"{path} on {base}", issue.number, pr)

    prior = github.find_pull(branch, base)
    if prior is not None and prior.state != "open":
        # One PR per version: once merged (or closed by a reviewer) its branch is left alone.
        action = "merged" if prior.merged else "closed"
        log.info("promotion PR #%d for v%d was %s already", prior.number, version, action)
        return PublishedItem("pull", prior.number, prior.html_url, action), path
    message = f"Promote {config.name} v{version} to champion (drift report #{issue.number})"
    pull_draft = render_pull(results, issue.number)
    github.ensure_branch(branch, base)
    github.write_file(path, card_text(None), branch, message)
    pull = github.upsert_pull(
        branch,
        base,
        pull_draft.title,
        pull_draft.body,
        pull_draft.labels,
        draft=retrain.get("decision") == "refuse",
    )
    # Only now is the PR's number known; the card records it (no-op when already there).
    github.write_file(path, card_text(pull.number), branch, f"Record PR #{pull.number} in the card")
    log.info("promotion PR #%d %s", pull.number, pull.action)
    return pull, path


def promotion_card(
    config: ModelConfig,
    results: RunResults,
    text: str | None,
    source: str,
    issue_number: int | None,
    pr: int | None,
) -> str:
    """The model card a promotion PR commits: ``text`` (the card on the base branch, or None)
    with its generated sections refreshed and the challenger named champion."""
    retrain = results.retrain or {}
    version = int(retrain["challenger_version"])
    card = parse_card(text, source) if text else new_card(config.name, "", results.templates_dir)
    comparison = retrain.get("comparison") or {}
    metrics = {k: float(v) for k, v in (comparison.get("challenger") or {}).items()}
    today = datetime.now(timezone.utc).date().isoformat()
    reasons = retrain.get("reasons") or ["challenger beats champion"]
    report = f"drift report #{issue_number}" if issue_number else "the drift report"
    why = f"{reasons[-1]} ({report})"
    if results.card:  # the same generator as `pipeline card`, on the retrain step's facts
        card = refresh_card(card, CardFacts.from_json(results.card), results.templates_dir)
    run_id = str(retrain.get("challenger_run_id") or "")
    return render_card(with_champion(card, version, run_id, metrics, today, why, pr))


def publish_failure(
    config: ModelConfig,
    period: str,
    step: str,
    error: str,
    target: GitHubTarget,
    templates_dir: str = "",
) -> PublishedItem:
    """Comment on the period's drift issue when there is one, or open a failure issue."""
    github = GitHub(target)
    body = render_failure(config.name, period, step, error, target.run_url, templates_dir)
    github.ensure_labels([DRIFT_LABEL])
    existing = github.find_issue(issue_marker(config.name, period), DRIFT_LABEL)
    if existing is not None:
        url = github.comment(existing.number, body)
        return PublishedItem("comment", existing.number, url, "created")
    marker = f"<!-- driftgate:failure model={config.name} period={period} -->"
    return github.upsert_issue(
        f"Driftgate run failed: {config.name} {period} ({step})",
        body + "\n" + marker,
        [FAILURE_LABEL, config.name],
        marker,
        FAILURE_LABEL,
    )
