"""`pipeline state pull|push|status`: the durable state on a branch (``edges.state``).

A workflow job pulls before it reads the registry and pushes after it writes; what is kept and
what is dropped from the registry's artifacts is ``monitoring.retention``'s decision, made here
from the registry and the model card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pipeline.config import ModelConfig, Settings, StateTarget
from pipeline.edges.registry import Registry
from pipeline.edges.state import (
    StatePull,
    StatePush,
    Workspace,
    describe_state,
    pull_state,
    push_state,
)
from pipeline.monitoring.retention import RetentionPlan, plan_retention
from pipeline.reporting.cards import read_card

log = logging.getLogger("pipeline")


def _card_version(settings: Settings, config: ModelConfig) -> int | None:
    return read_card(settings.path(settings.model_cards_dir), config.name).champion.version


def state_pull_step(
    settings: Settings, config: ModelConfig, target: StateTarget, fresh: bool = False
) -> StatePull:
    pulled = pull_state(settings, config, target, _card_version(settings, config), fresh=fresh)
    log.info("%s", pulled.message)
    return pulled


def state_push_step(
    settings: Settings, config: ModelConfig, target: StateTarget, period: str, step: str
) -> StatePush:
    pushed = push_state(
        settings, config, target, period, step, lambda: retention_plan(settings, config)
    )
    for name, why in sorted(pushed.dropped.items()):
        log.info("artifacts of %s left out of the state: %s", name, why)
    log.info("%s", pushed.message)
    return pushed


def retention_plan(settings: Settings, config: ModelConfig) -> RetentionPlan | None:
    """What the state keeps of the SQLite store's artifacts (None: no store to prune)."""
    db = Workspace.of(settings, config).db
    if db is None or not db.is_file():
        return None
    versions, runs = Registry(settings, config).retention_inventory()
    return plan_retention(
        versions,
        runs,
        _card_version(settings, config),
        datetime.now(timezone.utc),
        settings.state_prune_days,
    )


@dataclass
class StateStatus:
    remote: str
    branch: str
    commit: str | None
    commits: int
    state_bytes: int
    models: dict[str, Any]


def state_status_step(settings: Settings, target: StateTarget) -> StateStatus:
    """What the branch holds, per model, read-only: for people and the schedule's health check."""
    described = describe_state(settings, target)
    return StateStatus(**described)
