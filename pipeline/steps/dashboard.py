"""`pipeline dashboard`: the facts a static site shows, gathered from what the runs recorded.

Only what exists already is read: the registry (versions, aliases, the decision record that
`pipeline history` prints), each period's JSON results under outputs/ and the model cards.
``reporting.dashboard`` turns the facts into pages; nothing here draws.
"""

from __future__ import annotations

import logging
import webbrowser
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHALLENGER, CHAMPION, Registry
from pipeline.model.labels import PERFORMANCE_FILE
from pipeline.model.periods import is_month
from pipeline.monitoring.drift import DRIFT_FILE, HTML_FILE
from pipeline.reporting.cards import read_card
from pipeline.reporting.dashboard import (
    DashboardFacts,
    ModelFacts,
    PeriodFacts,
    VersionFacts,
    render_site,
)
from pipeline.reporting.history import build_history
from pipeline.reporting.report import GITHUB_FILE, ISSUE_MARKDOWN, PULL_MARKDOWN
from pipeline.results import read_json_if_exists

log = logging.getLogger("pipeline")


def dashboard_step(
    settings: Settings, models: list[ModelConfig], out: Path, open_browser: bool = False
) -> dict[str, Any]:
    """Write the site for ``models`` into ``out`` (replaced as a whole); its index page's path."""
    facts = DashboardFacts(
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        models=[gather_model(settings, config) for config in models],
    )
    reports = {
        f"{model.name}/{period.period}": settings.output_dir_for(model.name, period.period)
        / HTML_FILE
        for model in facts.models
        for period in model.periods
        if period.has_report
    }
    # Dry runs sent nothing to GitHub: the issue and the PR they would have opened are shown.
    drafts = {
        f"{model.name}/{period.period}/{kind}": path
        for model in facts.models
        for period in model.periods
        for kind, name in (("issue", ISSUE_MARKDOWN), ("pull", PULL_MARKDOWN))
        if (path := settings.output_dir_for(model.name, period.period) / name).exists()
    }
    index = render_site(facts, out, reports, drafts, settings.templates_folder())
    log.info("dashboard written to %s", index)
    if open_browser:
        webbrowser.open(index.resolve().as_uri())
    return {"index": str(index), "models": [m.name for m in facts.models]}


def gather_model(settings: Settings, config: ModelConfig) -> ModelFacts:
    registry = Registry(settings, config)
    card = read_card(settings.path(settings.model_cards_dir), config.name)
    history = build_history(registry, card.champion.version)
    decided = {v.version: v.decision for v in history.versions}
    versions = []
    for info in registry.versions():
        versions.append(
            VersionFacts(
                version=info.version,
                created_at=info.created_at,
                aliases=info.aliases,
                metrics={k: v for k, v in info.metrics.items() if k.startswith("test_")},
                promoted_at=info.tags.get("driftgate.promoted_at", ""),
                decision=decided.get(info.version, ""),
                period=info.run_tags.get("driftgate.period", ""),
            )
        )
    root = settings.path(settings.output_dir) / config.name
    periods = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if not is_month(folder.name):
            continue
        drift = read_json_if_exists(folder / DRIFT_FILE)
        if drift is None:
            continue
        periods.append(_period(folder, drift))
    comparison = None
    for folder in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        retrain = read_json_if_exists(folder / "retrain.json")
        if retrain and retrain.get("comparison"):
            comparison = {
                "period": folder.name,
                "champion_version": retrain.get("champion_version"),
                "challenger_version": retrain.get("challenger_version"),
                "decision": retrain.get("decision"),
                "comparison": retrain.get("comparison"),
                "fairness": retrain.get("fairness"),
                "importance": retrain.get("importance"),
            }
            break
    by_alias = {alias: v.version for v in versions for alias in v.aliases}
    return ModelFacts(
        name=config.name,
        description=config.description,
        primary_metric=config.primary_metric,
        card_champion=card.champion.version,
        champion=by_alias.get(CHAMPION),
        challenger=by_alias.get(CHALLENGER),
        versions=versions,
        decisions=[vars(d) for d in history.decisions],
        periods=periods,
        comparison=comparison,
    )


def _shadow(performance: dict[str, Any]) -> dict[str, Any] | None:
    """The kept challenger's realized ROC AUC on the period, when it scored it too."""
    shadow = performance.get("shadow") or {}
    value = (shadow.get("metrics") or {}).get("roc_auc")
    if value is None:
        return None
    return {"version": shadow.get("model_version"), "realized": value}


def _period(folder: Path, drift: dict[str, Any]) -> PeriodFacts:
    estimated = drift.get("estimated_performance") or None
    performance = read_json_if_exists(folder / PERFORMANCE_FILE) or {}
    github = read_json_if_exists(folder / GITHUB_FILE) or {}
    realized = (performance.get("metrics") or {}).get("roc_auc")
    concept = drift.get("concept_drift") or {}
    if realized is None and concept.get("metric") == "roc_auc":
        realized = concept.get("current")  # labels that came with the batch
    return PeriodFacts(
        period=folder.name,
        verdict=str(drift.get("verdict", "")),
        drift_share=drift.get("drift_share"),
        model_version=drift.get("model_version"),
        features=[
            {"name": f["name"], "score": f["score"], "drifted": bool(f["drifted"])}
            for f in drift.get("features") or []
        ],
        estimated=(
            {k: estimated[k] for k in ("value", "lower", "upper") if k in estimated}
            if estimated
            else None
        ),
        realized=realized,
        shadow=_shadow(performance),
        issue_url=(github.get("issue") or {}).get("url"),
        pull_url=(github.get("pull") or {}).get("url"),
        has_report=(folder / HTML_FILE).exists(),
    )
