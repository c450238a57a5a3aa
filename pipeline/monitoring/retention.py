"""What the durable state keeps: a pure decision over the registry's versions and runs.

A version's artifacts (its model and its training run's files) stay while an alias or the model
card names it, or while it is younger than the retention age; any other run's artifacts (drift
and predict runs) stay while they are younger than that age. MLflow's metadata is never dropped:
``pipeline history`` still lists every version and decision; only the files go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class StoredVersion:
    version: int
    run_id: str
    model_id: str | None  # MLflow 3's logged model holding the version's files
    created: datetime
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    started: datetime


@dataclass
class RetentionPlan:
    """Which artifact folders the state keeps and which it drops, each with its reason."""

    keep_runs: set[str] = field(default_factory=set)
    keep_models: set[str] = field(default_factory=set)
    dropped: dict[str, str] = field(default_factory=dict)  # run or model id -> why

    def keeps_run(self, run_id: str) -> bool:
        return run_id in self.keep_runs

    def keeps_model(self, model_id: str) -> bool:
        return model_id in self.keep_models


def plan_retention(
    versions: list[StoredVersion],
    runs: list[StoredRun],
    card_version: int | None,
    now: datetime,
    max_age_days: int,
) -> RetentionPlan:
    """Keep what an alias or the card names and anything younger than ``max_age_days``."""
    cutoff = now - timedelta(days=max_age_days)
    plan = RetentionPlan()
    version_runs = {v.run_id for v in versions}
    for found in versions:
        named = bool(found.aliases) or found.version == card_version
        if named or found.created >= cutoff:
            plan.keep_runs.add(found.run_id)
            if found.model_id:
                plan.keep_models.add(found.model_id)
            continue
        why = f"v{found.version}: no alias or card names it, created {found.created:%Y-%m-%d}"
        plan.dropped[found.run_id] = why
        if found.model_id:
            plan.dropped[found.model_id] = why
    for run in runs:
        if run.run_id in version_runs:
            continue
        if run.started >= cutoff:
            plan.keep_runs.add(run.run_id)
        else:
            plan.dropped[run.run_id] = f"run started {run.started:%Y-%m-%d}"
    return plan
