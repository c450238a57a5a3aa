"""Moving ``champion``: `pipeline promote` (by hand or on a merged PR), `sync` and `rollback`.

Every path re-checks the same gates before the alias moves; a refusal is recorded and named.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import GitHubTarget, ModelConfig, Settings
from pipeline.edges.github import GitHub
from pipeline.edges.registry import CHAMPION, AliasMove, Registry
from pipeline.errors import DataError, GateError, RegistryError
from pipeline.model.schema import signature_problems
from pipeline.monitoring.policy import MergedPullFacts, merged_pull_decision, version_gates
from pipeline.reporting.cards import read_card
from pipeline.results import set_step_outputs

log = logging.getLogger("pipeline")


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
        # One outcome comment per PR, edited on a re-run (a retried workflow, `promote` again).
        marker = f"<!-- driftgate:promotion-outcome model={config.name} pr={number} -->"
        comment_url = GitHub(target).upsert_comment(number, marker, f"{body}\n\n{marker}")
    result = EventPromotion(
        config.name, number, decision.outcome, decision.reasons, version, move, comment_url
    )
    set_step_outputs({"promoted": decision.outcome == "promote", "version": version or ""})
    if decision.outcome != "promote":
        raise GateError(f"PR #{number} did not promote {config.name}: {decision.reasons[0]}")
    return result


MERGED_EVENT = "merged_event.json"


def play_merge_step(settings: Settings, config: ModelConfig, out_dir: Path) -> Path:
    """A dry run's stand-in for merging the period's promotion PR; returns the event's path.

    Merging changes one file, the model card, and makes GitHub send a ``pull_request`` event:
    this writes the card the PR would commit (``promotion_card.md``, from the dry-run report)
    to ``model_cards_dir`` and the event to ``merged_event.json``, for `pipeline promote
    --event` to act on exactly as ``promote.yml`` does. A played merge has no PR number (0).
    """
    from pipeline.reporting.report import PULL_CARD
    from pipeline.results import read_json_if_exists, write_json_atomic
    from pipeline.steps.retrain import RETRAIN_FILE

    card = out_dir / PULL_CARD
    retrain = read_json_if_exists(out_dir / RETRAIN_FILE)
    version = retrain.get("challenger_version")
    if not card.exists() or version is None:
        decision = retrain.get("decision", "no retrain.json")
        raise DataError(
            f"{out_dir} has no promotion PR to merge ({PULL_CARD} is written by a dry run whose "
            f"retrain decision is promote or refuse; this one's is {decision})"
        )
    cards = settings.path(settings.model_cards_dir)
    cards.mkdir(parents=True, exist_ok=True)
    target = cards / f"{config.name}.md"
    staged = target.with_name(f".{target.name}.tmp")
    staged.write_text(card.read_text(encoding="utf-8"), encoding="utf-8")
    staged.replace(target)
    labels = ["model-promotion", config.name]
    event = {
        "action": "closed",
        "number": 0,
        "pull_request": {
            "number": 0,
            "title": f"Promote {config.name} v{version} to champion",
            "merged": True,
            "state": "closed",
            "base": {"ref": "main"},
            "head": {"ref": f"promote/{config.name}-v{version}"},
            "labels": [{"name": name} for name in labels],
        },
        "repository": {"default_branch": "main"},
    }
    path = write_json_atomic(out_dir / MERGED_EVENT, event)
    log.info("played the merge of v%d's promotion PR: %s now names it", version, target)
    return path


def event_model(event_path: Path, models: Iterable[str]) -> str | None:
    """The configured model a promotion PR's branch names, or None (then the default applies)."""
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
    moves = []
    for config in models:
        card = read_card(settings.path(settings.model_cards_dir), config.name)
        if card.champion.version is None:
            log.info("card of '%s' names no champion yet: nothing to sync", config.name)
            continue
        registry = Registry(settings, config)
        known = [v.version for v in registry.versions()]
        if card.champion.version not in known:
            have = ", ".join(f"v{v}" for v in sorted(known)) or "no version at all"
            where = settings.tracking_uri_for(config.name)
            raise RegistryError(
                f"{settings.card_repo_path(config.name)} names champion "
                f"v{card.champion.version}, which the registry at {where} does "
                f"not have ({have}): restore its state (`pipeline state pull`) or fix the card"
            )
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


def rollback_step(settings: Settings, config: ModelConfig, reason: str) -> AliasMove:
    return Registry(settings, config).rollback(reason)
