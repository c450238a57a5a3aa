"""``pipeline history``: a model's versions, aliases, promotions and drift verdicts, newest first.

Read from MLflow (version tags written by promote, rollback and retrain; the tags of the drift
runs) and the model card (the champion Git asks for): no separate database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.edges.registry import ISSUE_TAG, PULL_TAG, Registry, read_records


@dataclass
class VersionRecord:
    version: int
    created_at: str
    aliases: list[str]
    roc_auc: float | None
    decision: str
    promoted_at: str
    reason: str


@dataclass
class DriftRecord:
    period: str
    verdict: str
    drift_share: float | None
    run_id: str
    at: str


@dataclass
class DecisionRecord:
    """One verdict from the record tags: on a version (v3) or a period's data (2026-06)."""

    at: str
    subject: str
    verdict: str
    source: str
    reasons: list[str]


@dataclass
class History:
    model: str
    card_champion: int | None
    versions: list[VersionRecord] = field(default_factory=list)
    drift: list[DriftRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)


# The retrain step's promotion verdict, as it reads on a version: it only proposed.
_SHOWN = {"promote": "proposed", "keep": "kept", "refuse": "refused"}


def build_history(registry: Registry, card_champion: int | None) -> History:
    history = History(registry.name, card_champion)
    for info in registry.versions():
        tags = info.tags
        refused = tags.get("driftgate.promotion_refused")
        decision = tags.get("driftgate.decision", "")
        history.versions.append(
            VersionRecord(
                version=info.version,
                created_at=info.created_at,
                aliases=info.aliases,
                roc_auc=info.metrics.get("test_roc_auc"),
                decision="refused" if refused else _SHOWN.get(decision, decision),
                promoted_at=tags.get("driftgate.promoted_at", ""),
                reason=_last_alias_decision(tags)
                or refused
                or tags.get("driftgate.promotion_reason", ""),
            )
        )
        history.decisions += _decisions(f"v{info.version}", tags)
    for run in registry.step_runs("drift"):
        history.decisions += _decisions(
            f"{run['tags'].get('driftgate.period', '?')} data", run["tags"]
        )
        history.drift.append(
            DriftRecord(
                period=str(run["tags"].get("driftgate.period", "")),
                verdict=str(run["tags"].get("driftgate.verdict", "")),
                drift_share=run["metrics"].get("drift_share"),
                run_id=str(run["run_id"]),
                at=str(run["start_time"]),
            )
        )
    history.decisions.sort(key=lambda d: d.at, reverse=True)
    return history


def _last_alias_decision(tags: dict[str, str]) -> str:
    """The latest promote, refuse or rollback of a version, e.g. "rollback: scores drifted"."""
    moves = [r for r in read_records(tags) if r.verdict in ("promote", "refuse", "rollback")]
    if not moves:
        return ""
    last = moves[-1]
    return f"{last.verdict}: {last.reasons[0] if last.reasons else '-'}"


def _decisions(subject: str, tags: dict[str, str]) -> list[DecisionRecord]:
    """``tags``' recorded verdicts; where the verdict was published joins the retrain's own."""
    published = ", ".join(tags[key] for key in (ISSUE_TAG, PULL_TAG) if tags.get(key))
    decisions = []
    for record in read_records(tags):
        source = record.source
        # Verdicts of the monthly run (drift, retrain, the challenger's) were published in the
        # period's issue and PR; a promotion by hand or by a merged PR names its own source.
        if published and (not source or source.startswith("retrain")):
            source = f"{source} ({published})" if source else published
        decisions.append(
            DecisionRecord(record.at, subject, record.verdict, source or "-", record.reasons)
        )
    return decisions


def render_history(history: History) -> str:
    """Two plain-text tables for a terminal or a README."""
    card = f"v{history.card_champion}" if history.card_champion else "none"
    lines = [f"{history.model}: model card names {card} as champion", ""]
    lines += _table(
        ["version", "created", "aliases", "test ROC AUC", "verdict", "promoted", "last move"],
        [
            [
                f"v{v.version}",
                v.created_at[:16],
                ",".join(v.aliases) or "-",
                "-" if v.roc_auc is None else f"{v.roc_auc:.3f}",
                v.decision or "-",
                v.promoted_at[:16] or "-",
                v.reason or "-",
            ]
            for v in history.versions
        ],
    )
    lines.append("")
    lines += _table(
        ["period", "drift verdict", "drift share", "when", "MLflow run"],
        [
            [
                d.period,
                d.verdict,
                "-" if d.drift_share is None else f"{d.drift_share:.2f}",
                d.at[:16],
                d.run_id[:12],
            ]
            for d in history.drift
        ],
    )
    lines.append("")
    lines += _table(
        ["decided", "on", "verdict", "from", "why"],
        [
            [d.at[:16], d.subject, d.verdict, d.source, _short("; ".join(d.reasons))]
            for d in history.decisions
        ],
    )
    return "\n".join(lines)


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return [header[0] + ": none yet"]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    rule = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(), rule]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return out
