"""Model cards: ``model_cards/<model>.md``, the desired deployment state of a model in Git.

The YAML front matter names the champion (version, run id, metrics, when, which PR); `sync`
makes the registry match it and a merged promotion PR changes it. The body mixes hand-written
sections with generated ones between ``<!-- driftgate:begin NAME -->`` and
``<!-- driftgate:end NAME -->``; only the generated ones are ever rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, first_line
from pipeline.monitoring.comparison import PAIRED_ARTIFACT, PairedDifference
from pipeline.monitoring.effect import psi_band
from pipeline.reporting.report import (
    fairness_markdown,
    importance_markdown,
    text_only_facts,
    xychart,
)
from pipeline.reporting.texts import render

if TYPE_CHECKING:
    from pipeline.config import ModelConfig
    from pipeline.edges.registry import Registry

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
PROMOTION_HISTORY = "promotion-history"
# The generated sections, in the order a new card lists them; `pipeline card` rewrites these.
GENERATED = (
    "training-data",
    "features",
    "performance",
    "drift-history",
    "fairness",
    "importance",
)
TRAINING_WINDOW_TAG = "driftgate.training_window"  # which window a challenger learned from
CARD_FILE = "card.json"  # the facts of the challenger's card, written by the retrain step
_PERIODS_SHOWN = 24
_HISTORY_HEADER = "| version | date | PR | why |\n| ---: | --- | --- | --- |"


@dataclass(frozen=True)
class Champion:
    version: int | None = None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    promoted_at: str | None = None
    pr: int | None = None


@dataclass(frozen=True)
class Card:
    model: str
    champion: Champion
    body: str
    extra: dict[str, Any] = field(default_factory=dict)  # other front-matter keys, kept as is


def card_path(directory: Path, model: str) -> Path:
    return directory / f"{model}.md"


def parse_card(text: str, source: str) -> Card:
    import yaml

    match = _FRONT.match(text)
    if not match:
        raise ConfigError(f"{source} has no YAML front matter (a '---' block at the top)")
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{source}: front matter is not valid YAML ({first_line(error)})"
        ) from None
    if not isinstance(front, dict) or "model" not in front:
        raise ConfigError(f"{source}: front matter must be a mapping with a 'model' key")
    raw = front.pop("champion", None) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'champion' must be a mapping")
    try:
        champion = Champion(
            version=None if raw.get("version") is None else int(raw["version"]),
            run_id=raw.get("run_id"),
            metrics={str(k): float(v) for k, v in (raw.get("metrics") or {}).items()},
            promoted_at=None if raw.get("promoted_at") is None else str(raw["promoted_at"]),
            pr=None if raw.get("pr") is None else int(raw["pr"]),
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: champion fields are malformed ({error})") from None
    model = str(front.pop("model"))
    return Card(model=model, champion=champion, body=text[match.end() :], extra=front)


def render_card(card: Card) -> str:
    import yaml

    champion = card.champion
    front: dict[str, Any] = {
        "model": card.model,
        "champion": {
            "version": champion.version,
            "run_id": champion.run_id,
            "metrics": {k: round(v, 4) for k, v in champion.metrics.items()},
            "promoted_at": champion.promoted_at,
            "pr": champion.pr,
        },
        **card.extra,
    }
    dumped = yaml.safe_dump(front, sort_keys=False, default_flow_style=False).strip()
    return f"---\n{dumped}\n---\n{card.body}"


def read_card(directory: Path, model: str) -> Card:
    path = card_path(directory, model)
    if not path.exists():
        raise ConfigError(f"model card {path} does not exist (create it or run `pipeline card`)")
    return parse_card(path.read_text(encoding="utf-8"), str(path))


def section(body: str, name: str) -> str | None:
    begin, end = _markers(name)
    start = body.find(begin)
    stop = body.find(end)
    if start < 0 or stop < start:
        return None
    return body[start + len(begin) : stop].strip("\n")


def replace_section(body: str, name: str, content: str) -> str:
    """Rewrite one generated section; everything outside its markers stays byte-identical."""
    begin, end = _markers(name)
    start = body.find(begin)
    stop = body.find(end)
    block = _block(name, content)
    if start < 0 or stop < start:
        return body.rstrip("\n") + f"\n\n{block}\n"
    return body[:start] + block + body[stop + len(end) :]


def with_champion(
    card: Card,
    version: int,
    run_id: str,
    metrics: dict[str, float],
    date: str,
    why: str,
    pr: int | None = None,
) -> Card:
    """The card naming a new champion, with one promotion history row for it (kept unique)."""
    history = section(card.body, PROMOTION_HISTORY)
    rows = [
        line
        for line in (history or "").splitlines()
        if line.startswith("|") and not line.startswith(("| version", "| ---"))
    ]
    rows = [r for r in rows if not r.startswith(f"| {version} |")]
    why_cell = why.replace("|", "/").replace("\n", " ")
    rows.append(f"| {version} | {date} | {f'#{pr}' if pr else 'this PR'} | {why_cell} |")
    body = replace_section(card.body, PROMOTION_HISTORY, "\n".join([_HISTORY_HEADER, *rows]))
    champion = Champion(version, run_id, dict(metrics), date, pr)
    return replace(card, champion=champion, body=body)


def new_card(model: str, description: str, templates_dir: str = "") -> Card:
    """A first card: hand-written sections to fill in, and an empty promotion history."""
    body = render(
        "card.md.j2",
        templates_dir,
        model=model,
        description=description,
        generated=[(_TITLES[name], _begin_end(name)) for name in GENERATED],
        history=_block(PROMOTION_HISTORY, _HISTORY_HEADER),
    )
    return Card(model=model, champion=Champion(), body=body)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- driftgate:begin {name} -->", f"<!-- driftgate:end {name} -->"


def _block(name: str, content: str) -> str:
    begin, end = _markers(name)
    return f"{begin}\n{content}\n{end}"


def _begin_end(name: str) -> str:
    return _block(name, NOT_YET)


# What a generated section says before the model has a champion to describe.
NOT_YET = "_Written by `pipeline card` from MLflow once the model has a champion._"


_TITLES = {
    "training-data": "Training data",
    "features": "Features",
    "performance": "Performance over time",
    "drift-history": "Drift history",
    "fairness": "Fairness",
    "importance": "Feature importance and its stability",
}


# -- generated sections ------------------------------------------------------------------------
@dataclass
class PeriodRecord:
    """One monitored period, from its drift run: the verdict and the champion's score."""

    period: str
    model_version: int | None
    verdict: str
    drift_share: float | None
    drifted_features: int | None
    metric: float | None  # the champion's primary metric on the period's labelled rows
    reference_metric: float | None  # the same champion's on its held-out test split
    labelled_rows: int | None
    max_psi: float | None = None  # the largest shift of any feature (PSI)
    # The kept challenger's metric on the same labelled rows, and its version (no shadow: None).
    shadow_metric: float | None = None
    shadow_version: int | None = None


@dataclass
class CardFacts:
    """Everything the generated sections show, as plain data (stored as ``card.json``)."""

    model: str
    version: int
    run_id: str
    registered_at: str
    estimator: str
    train_rows: int | None
    test_rows: int | None
    training_data: list[str]
    test_metrics: dict[str, float]
    primary_metric: str
    features: list[dict[str, str]]
    periods: list[PeriodRecord]
    drift_share_threshold: float
    fairness: dict[str, Any] | None = None  # {"challenger": report, "champion": report}
    fairness_gate: list[str] = field(default_factory=list)
    importance: dict[str, Any] | None = None
    # Against the champion it was compared with: the paired difference (``PairedDifference``)
    # and the training window it learned from; None for a version never compared.
    paired: dict[str, Any] | None = None
    training_window: str | None = None
    training_digest: str | None = None  # MLflow's dataset digest of the training rows

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardFacts:
        values = dict(data)
        values["periods"] = [PeriodRecord(**p) for p in data.get("periods", [])]
        return cls(**values)


def generated_sections(facts: CardFacts, templates_dir: str = "") -> dict[str, str]:
    """The markdown of every generated section, from the facts alone (through the fork's
    ``card_section.md.j2`` when it has one)."""
    gate = "\n".join(f"- {line}" for line in facts.fairness_gate)
    compared_with = (facts.importance or {}).get("champion_version")
    fairness = fairness_markdown(facts.fairness or {}, facts.version, compared_with)
    contents = {
        "training-data": _training_data(facts),
        "features": _features(facts),
        "performance": _performance(facts),
        "drift-history": _drift_history(facts),
        "fairness": f"{fairness}\n\n{gate}" if gate else fairness,
        "importance": importance_markdown(facts.importance),
    }
    return {
        name: render(
            "card_section.md.j2",
            templates_dir,
            name=name,
            title=_TITLES[name],
            content=content,
            facts=facts,
        )
        for name, content in contents.items()
    }


def refresh_card(card: Card, facts: CardFacts, templates_dir: str = "") -> Card:
    """The card with its generated sections rewritten; hand-written text is left byte for byte."""
    body = card.body
    for name, content in generated_sections(facts, templates_dir).items():
        body = replace_section(body, name, content)
    return replace(card, body=body)


def _training_data(facts: CardFacts) -> str:
    metrics = ", ".join(
        f"{name.removeprefix('test_')} {value:.3f}"
        for name, value in sorted(facts.test_metrics.items())
        if not name.startswith("test_fairness_")
    )
    rows = (
        f"{facts.train_rows} rows to train, {facts.test_rows} held out for the test metrics"
        if facts.train_rows is not None
        else "row counts not recorded"
    )
    sources = "; ".join(facts.training_data) or "not recorded"
    lines = [
        f"Version **v{facts.version}** (`{facts.estimator}`, MLflow run `{facts.run_id}`), "
        f"registered {facts.registered_at[:10]}.",
        "",
        f"- Data, oldest first: {sources}.",
    ]
    if facts.training_window:
        lines.append(f"- Training window: {facts.training_window}.")
    if facts.training_digest:
        lines.append(
            f"- MLflow dataset digest of those rows: `{facts.training_digest}` (the run's inputs,"
            " context training)."
        )
    lines += [f"- Split: {rows}.", f"- Test metrics: {metrics or 'none logged'}."]
    if facts.paired:
        champion = (facts.importance or {}).get("champion_version")
        against = f"champion v{champion}" if champion else "the champion"
        lines.append(
            f"- Against {against} on the same {facts.paired['rows']} rows "
            f"({facts.paired['metric']}, {facts.paired['method']}): "
            f"{PairedDifference(**facts.paired).describe()}."
        )
    return "\n".join(lines)


def _features(facts: CardFacts) -> str:
    lines = ["| column | kind | role | values |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {f['name']} | {f['kind']} | {f['role']} | {f['values']} |" for f in facts.features
    ]
    return "\n".join(lines)


def _performance(facts: CardFacts) -> str:
    metric = facts.primary_metric
    scored = [p for p in facts.periods if p.metric is not None]
    if not scored:
        return f"No monitored period had labels yet: {metric} over time starts with the first."
    shadowed = any(p.shadow_metric is not None for p in scored)
    lines = [
        f"The champion's {metric} on each period's labelled rows (from the drift runs), next "
        "to the same version's score on its held-out test split"
        + (", and the kept challenger's (shadow) on the same rows." if shadowed else "."),
        "",
        f"| period | champion | {metric} | test {metric} | labelled rows |"
        + (" shadow |" if shadowed else ""),
        "| --- | --- | ---: | ---: | ---: |" + (" ---: |" if shadowed else ""),
    ]
    for p in scored:
        reference = "-" if p.reference_metric is None else f"{p.reference_metric:.3f}"
        line = (
            f"| {p.period} | v{p.model_version} | {p.metric:.3f} | {reference} "
            f"| {p.labelled_rows or '-'} |"
        )
        if shadowed:
            shown = (
                "-" if p.shadow_metric is None else f"{p.shadow_metric:.3f} (v{p.shadow_version})"
            )
            line += f" {shown} |"
        lines.append(line)
    series = [
        ("line", [p.metric or 0.0 for p in scored]),
        ("line", [p.reference_metric or 0.0 for p in scored]),
    ]
    chart = xychart(
        f"{metric} per period (line 2: test split)", metric, _names(scored), series, _top(series)
    )
    return "\n".join(lines) + "\n\n" + chart


def _drift_history(facts: CardFacts) -> str:
    if not facts.periods:
        return "No period monitored yet."
    lines = [
        "| period | champion | verdict | drift share | drifted features | largest PSI |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for p in facts.periods:
        share = "-" if p.drift_share is None else f"{p.drift_share:.0%}"
        version = "-" if p.model_version is None else f"v{p.model_version}"
        psi = "-" if p.max_psi is None else f"{p.max_psi:.3f} ({psi_band(p.max_psi)})"
        lines.append(
            f"| {p.period} | {version} | {p.verdict} | {share} | {p.drifted_features or 0} "
            f"| {psi} |"
        )
    threshold = facts.drift_share_threshold
    series = [
        ("bar", [p.drift_share or 0.0 for p in facts.periods]),
        ("line", [threshold] * len(facts.periods)),
    ]
    chart = xychart(
        f"Share of drifted features (line: threshold {threshold:.0%})",
        "share",
        _names(facts.periods),
        series,
        _top(series),
    )
    return "\n".join(lines) + "\n\n" + chart


def _top(series: list[tuple[str, list[float]]]) -> float:
    return max([1.0, *(v for _, values in series for v in values)])


def _names(periods: list[PeriodRecord]) -> list[str]:
    return [p.period for p in periods]


def period_records(drift_runs: list[dict[str, Any]], metric: str) -> list[PeriodRecord]:
    """One record per period (its latest drift run), oldest first, the last two years at most."""
    latest: dict[str, dict[str, Any]] = {}
    for run in drift_runs:  # newest first: a period's re-run replaces its earlier verdict
        period = str(run["tags"].get("driftgate.period", ""))
        if period and period not in latest:
            latest[period] = run
    records = []
    for period in sorted(latest)[-_PERIODS_SHOWN:]:
        tags, metrics = latest[period]["tags"], latest[period]["metrics"]
        version = str(tags.get("driftgate.model_version", ""))
        shadow = str(tags.get("driftgate.shadow_version", ""))
        drifted = metrics.get("n_drifted_features")
        # Labels with the batch (the drift run measured them) or late labels (added later).
        labelled = metrics.get("labelled_rows", metrics.get("realized_labelled_rows"))
        value = metrics.get(f"champion_{metric}", metrics.get(f"realized_{metric}"))
        records.append(
            PeriodRecord(
                period=period,
                model_version=int(version) if version.isdigit() else None,
                verdict=str(tags.get("driftgate.verdict", "")),
                drift_share=metrics.get("drift_share"),
                drifted_features=None if drifted is None else int(drifted),
                metric=value,
                reference_metric=metrics.get(f"reference_{metric}"),
                labelled_rows=None if labelled is None else int(labelled),
                max_psi=metrics.get("max_psi"),
                shadow_metric=metrics.get(f"shadow_{metric}"),
                shadow_version=int(shadow) if shadow.isdigit() else None,
            )
        )
    return records


def feature_rows(config: ModelConfig) -> list[dict[str, str]]:
    """The schema as the card shows it: inputs first, then what is kept but not learned from."""
    order = {"feature": 0, "sensitive": 1, "target": 2, "id": 3, "passthrough": 4}
    rows = []
    for column in sorted(config.columns, key=lambda c: order.get(c.role, 9)):
        if column.levels:
            values = ", ".join(str(level) for level in column.levels)
        elif column.min is not None or column.max is not None:
            low = "" if column.min is None else f"{column.min:g}"
            high = "" if column.max is None else f"{column.max:g}"
            values = f"{low} to {high}"
        else:
            values = "any"
        role = {"sensitive": "fairness report only (not an input)"}.get(column.role, column.role)
        rows.append({"name": column.name, "kind": column.kind, "role": role, "values": values})
    return rows


def gather_card_facts(registry: Registry, config: ModelConfig, version: int) -> CardFacts:
    """The facts of ``version``'s card, read from MLflow (the version, its run, the drift runs)."""
    from pipeline.edges.registry import TRAINING_DIGEST_TAG
    from pipeline.monitoring.fairness import FAIRNESS_ARTIFACT, RECENT_FAIRNESS_ARTIFACT
    from pipeline.monitoring.importance import IMPORTANCE_ARTIFACT, STABILITY_ARTIFACT
    from pipeline.monitoring.policy import version_fairness_gates

    info = registry.version(version)
    # The fairness the gate reads: on the rows the version was compared with the champion
    # (both sides), else its own held-out test split.
    fairness = registry.run_json(info.run_id, RECENT_FAIRNESS_ARTIFACT)
    if fairness is None:
        own = registry.run_json(info.run_id, FAIRNESS_ARTIFACT)
        fairness = {"challenger": own} if own else None
    importance = registry.run_json(info.run_id, STABILITY_ARTIFACT)
    if importance is None:  # a first version has no champion to be compared with
        own = registry.run_json(info.run_id, IMPORTANCE_ARTIFACT) or {}
        importance = {
            "evaluated_on": own.get("evaluated_on", ""),
            "challenger_version": version,
            "challenger": own.get("features", []),
            "rank_correlation": None,
        }
    failures: list[str] = []
    passes: list[str] = []
    if config.fairness.gate_attributes:
        failures, passes = version_fairness_gates(
            info.metrics, config.fairness, config.thresholds, version
        )
    train_rows, test_rows = info.params.get("train_rows"), info.params.get("test_rows")
    sources = info.run_tags.get("driftgate.training_data", "")
    if config.text_only:
        fairness, importance = text_only_facts()
    return CardFacts(
        model=config.name,
        version=version,
        run_id=info.run_id,
        registered_at=info.created_at,
        estimator=info.params.get("estimator", "unknown"),
        train_rows=int(train_rows) if train_rows else None,
        test_rows=int(test_rows) if test_rows else None,
        training_data=[s.strip() for s in sources.split(";") if s.strip()],
        test_metrics={k: v for k, v in info.metrics.items() if k.startswith("test_")},
        primary_metric=config.primary_metric,
        features=feature_rows(config),
        periods=period_records(registry.step_runs("drift"), config.primary_metric),
        drift_share_threshold=config.thresholds.drift_share,
        fairness=fairness,
        fairness_gate=failures + passes,
        importance=importance,
        paired=registry.run_json(info.run_id, PAIRED_ARTIFACT),
        training_window=info.run_tags.get(TRAINING_WINDOW_TAG) or None,
        training_digest=info.run_tags.get(TRAINING_DIGEST_TAG) or None,
    )
