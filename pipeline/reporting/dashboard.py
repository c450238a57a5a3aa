"""The dashboard: a static site drawn from the facts ``steps.dashboard`` gathers.

An overview page (every model at a glance) and one page per model: drift share per period, a
feature x period heat map, performance over time, the version timeline with each decision's
reason, the champion against the latest challenger, and each period's Evidently report (copied
beside the pages and linked, never inlined). Charts are Plotly figures whose JavaScript is copied
into ``assets/`` (no CDN: the site works offline and on GitHub Pages); every chart has the table
it was drawn from beneath it, so the pages read without JavaScript too. Drifted cells carry a
mark and a word, not only a colour. ``dashboard.json`` beside the pages holds the facts.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.reporting.markdown import to_html
from pipeline.reporting.report import fairness_markdown
from pipeline.reporting.texts import render

FACTS_FILE = "dashboard.json"
PLOTLY_FILE = "assets/plotly.min.js"


@dataclass
class VersionFacts:
    version: int
    created_at: str
    aliases: list[str]
    metrics: dict[str, float]
    promoted_at: str = ""
    decision: str = ""  # the retrain step's verdict on it: proposed, kept or refused
    period: str = ""  # the period whose run trained it ("": the first training)


@dataclass
class PeriodFacts:
    period: str
    verdict: str
    drift_share: float | None
    model_version: int | None
    features: list[dict[str, Any]]
    estimated: dict[str, float] | None
    realized: float | None
    issue_url: str | None
    pull_url: str | None
    has_report: bool
    # The kept challenger on the same labelled rows: {"version", "realized"} (None: no shadow).
    shadow: dict[str, Any] | None = None


@dataclass
class ModelFacts:
    name: str
    description: str
    primary_metric: str
    card_champion: int | None
    champion: int | None
    challenger: int | None
    versions: list[VersionFacts]
    decisions: list[dict[str, Any]]
    periods: list[PeriodFacts]
    comparison: dict[str, Any] | None = None


@dataclass
class DashboardFacts:
    generated_at: str
    models: list[ModelFacts] = field(default_factory=list)


def render_site(
    facts: DashboardFacts,
    out: Path,
    reports: dict[str, Path],
    drafts: dict[str, Path] | None = None,
    templates_dir: str = "",
) -> Path:
    """Write the site into ``out`` as a whole (built aside, then swapped in); its index page.

    ``drafts``: "<model>/<period>/issue" (or "/pull") -> the Markdown a dry run wrote instead
    of opening it on GitHub; the site shows each as a page, linked where the address would be.
    """
    import plotly

    staging = out.with_name(out.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "assets").mkdir(parents=True)
    (staging / "models").mkdir()
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copyfile(source, staging / PLOTLY_FILE)
    stylesheet = render("dashboard.css.j2", templates_dir)
    (staging / "assets" / "style.css").write_text(stylesheet, encoding="utf-8")
    links: dict[str, str] = {}
    for key, report in sorted(reports.items()):
        relative = f"reports/{key}.html"
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, staging / relative)
        links[key] = relative
    for key, draft in sorted((drafts or {}).items()):
        relative = f"drafts/{key}.html"
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        kind = "promotion PR" if key.endswith("/pull") else "drift issue"
        page = _page(
            f"{kind} (dry run): {key.rsplit('/', 1)[0]}",
            depth=key.count("/") + 1,
            templates_dir=templates_dir,
            body="\n".join(
                [
                    f"<h1>{_e(kind.capitalize())}, as a dry run wrote it</h1>",
                    "<p>Not sent to GitHub: what it would have opened, rendered as GitHub does."
                    "</p>",
                    f'<article class="markdown">{to_html(draft.read_text(encoding="utf-8"))}'
                    "</article>",
                ]
            ),
        )
        (staging / relative).write_text(page, encoding="utf-8")
        links[f"draft:{key}"] = relative
    (staging / FACTS_FILE).write_text(
        json.dumps(asdict(facts), indent=2, default=str) + "\n", encoding="utf-8"
    )
    (staging / "index.html").write_text(
        overview_page(facts, links, templates_dir), encoding="utf-8"
    )
    for model in facts.models:
        page = model_page(model, facts.generated_at, links, templates_dir)
        (staging / "models" / f"{model.name}.html").write_text(page, encoding="utf-8")
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    if old.exists():
        shutil.rmtree(old)
    return out / "index.html"


# -- pages --------------------------------------------------------------------------------------
def _page(
    title: str,
    depth: int,
    templates_dir: str = "",
    template: str = "dashboard_page.html.j2",
    body: str = "",
    sections: dict[str, str] | None = None,
    **context: Any,
) -> str:
    """A page of the site from ``template``. ``body`` and ``sections`` are HTML Driftgate drew
    (passed through unescaped); ``context`` is data the template escapes."""
    from markupsafe import Markup

    drawn = body + "".join((sections or {}).values())
    return render(
        template,
        templates_dir,
        title=title,
        up="../" * depth,
        # Plotly's 4.6 MB only where a chart needs it.
        plotly=PLOTLY_FILE if "<figure" in drawn else "",
        body=Markup(body),
        sections={name: Markup(html) for name, html in (sections or {}).items()},
        **context,
    )


def overview_page(
    facts: DashboardFacts, links: dict[str, str] | None = None, templates_dir: str = ""
) -> str:
    links = links or {}

    def issue_link(model: ModelFacts, period: PeriodFacts | None) -> str:
        if period is None:
            return "-"
        if period.issue_url:
            return _link(period.issue_url, "drift issue")
        draft = links.get(f"draft:{model.name}/{period.period}/issue")
        return _link(draft, f"drift issue {period.period} (dry run)") if draft else "-"

    def pull_link(model: ModelFacts) -> str:
        url = _open_pull(model)
        if url:
            return _link(url, "promotion PR")
        drafted = next(
            (
                (p.period, links[key])
                for p in reversed(model.periods)
                if (key := f"draft:{model.name}/{p.period}/pull") in links
            ),
            None,
        )
        return _link(drafted[1], f"promotion PR {drafted[0]} (dry run)") if drafted else "-"

    rows = []
    for model in facts.models:
        latest = model.periods[-1] if model.periods else None
        champion = _version(model, model.champion)
        age = (
            _age_days(champion.promoted_at or champion.created_at, facts.generated_at)
            if (champion)
            else None
        )
        metric = champion.metrics.get(f"test_{model.primary_metric}") if champion else None
        estimated = latest.estimated if latest else None
        # Each figure names its period: the estimate is the latest month's, the realized value
        # the latest month whose labels have arrived (months apart when labels come late).
        matured = next((p for p in reversed(model.periods) if p.realized), None)
        rows.append(
            [
                f'<a href="models/{_e(model.name)}.html">{_e(model.name)}</a>',
                f"v{model.champion} ({age} days)" if champion else "none yet",
                _verdict(latest.verdict) + f" ({_e(latest.period)})" if latest else "no run yet",
                _num(metric),
                f"{_band(estimated)} ({_e(latest.period)})" if estimated and latest else "-",
                f"{_num(matured.realized)} ({_e(matured.period)})" if matured else "-",
                issue_link(model, latest),
                pull_link(model),
            ]
        )
    table = _table(
        "Every configured model",
        [
            "model",
            "champion (age)",
            "last verdict",
            "test metric at training",
            "estimated (95% band)",
            "realized",
            "issue",
            "PR",
        ],
        rows,
    )
    return _page(
        "Driftgate dashboard",
        depth=0,
        templates_dir=templates_dir,
        template="dashboard_index.html.j2",
        sections={"table": table},
        facts=facts,
    )


def model_page(
    model: ModelFacts, generated_at: str, reports: dict[str, str], templates_dir: str = ""
) -> str:
    sections = {
        "drift_share": _drift_share(model),
        "heat_map": _heat_map(model),
        "performance": _performance(model),
        "timeline": _timeline(model),
        "comparison": _comparison(model),
        "reports": _reports(model, reports),
    }
    return _page(
        f"Driftgate: {model.name}",
        depth=1,
        templates_dir=templates_dir,
        template="dashboard_model.html.j2",
        sections={name: "\n".join(parts) for name, parts in sections.items()},
        model=model,
        generated_at=generated_at,
    )


# -- sections -----------------------------------------------------------------------------------
def _drift_share(model: ModelFacts) -> list[str]:
    import plotly.graph_objects as go

    if not model.periods:
        return ["<p>No drift result yet.</p>"]
    periods = [p.period for p in model.periods]
    shares = [p.drift_share or 0.0 for p in model.periods]
    figure = go.Figure(
        go.Bar(
            x=periods,
            y=shares,
            text=[_verdict_words(p.verdict) for p in model.periods],
            marker_color=["#d1242f" if p.verdict == "drift" else "#2da44e" for p in model.periods],
        )
    )
    figure.update_layout(yaxis_title="share of drifted features", yaxis_tickformat=".0%")
    rows = [
        [
            _e(p.period),
            _verdict(p.verdict),
            _pct(p.drift_share),
            _e(", ".join(f["name"] for f in p.features if f["drifted"]) or "-"),
        ]
        for p in model.periods
    ]
    return [
        _chart(figure, "drift-share", "Share of drifted features per period"),
        _table("Drift share per period", ["period", "verdict", "drift share", "drifted"], rows),
    ]


def _heat_map(model: ModelFacts) -> list[str]:
    import math

    import plotly.graph_objects as go

    if not model.periods:
        return ["<p>No drift result yet.</p>"]
    names = sorted({f["name"] for p in model.periods for f in p.features})
    periods = [p.period for p in model.periods]
    by = {(p.period, f["name"]): f for p in model.periods for f in p.features}
    z, marks = [], []
    for name in names:
        row, mark_row = [], []
        for period in periods:
            found = by.get((period, name))
            p_value = float(found["score"]) if found else 1.0
            row.append(min(-math.log10(max(p_value, 1e-16)), 16.0))
            mark_row.append("✕ drifted" if found and found["drifted"] else "")
        z.append(row)
        marks.append(mark_row)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=periods,
            y=names,
            text=marks,
            texttemplate="%{text}",
            colorscale="Reds",
            colorbar={"title": "-log10 p"},
            hovertemplate="%{y}, %{x}: -log10 p = %{z:.1f} %{text}<extra></extra>",
        )
    )
    figure.update_layout(height=max(320, 22 * len(names) + 120))
    head = ["feature", *periods]
    rows = []
    for name in names:
        cells = [_e(name)]
        for period in periods:
            found = by.get((period, name))
            if not found:
                cells.append("-")
            elif found["drifted"]:
                cells.append(f'<span class="drifted">{_p(found["score"])} ✕ drifted</span>')
            else:
                cells.append(_p(found["score"]))
        rows.append(cells)
    return [
        _chart(figure, "heat-map", "Drift test p-value of each feature per period"),
        "<details><summary>The p-values as a table</summary>",
        _table("p-value per feature and period (✕: drifted)", head, rows),
        "</details>",
    ]


def _performance(model: ModelFacts) -> list[str]:
    import plotly.graph_objects as go

    if not model.periods:
        return ["<p>No period yet.</p>"]
    metric = model.primary_metric
    periods = [p.period for p in model.periods]
    at_training = [_trained_metric(model, p.model_version) for p in model.periods]
    estimated = [p.estimated["value"] if p.estimated else None for p in model.periods]
    upper = [
        (p.estimated["upper"] - p.estimated["value"]) if p.estimated else None
        for p in model.periods
    ]
    lower = [
        (p.estimated["value"] - p.estimated["lower"]) if p.estimated else None
        for p in model.periods
    ]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=periods, y=at_training, name="at training", mode="lines"))
    figure.add_trace(
        go.Scatter(
            x=periods,
            y=estimated,
            name="estimated (95% band)",
            mode="markers",
            error_y={"type": "data", "array": upper, "arrayminus": lower, "symmetric": False},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=periods,
            y=[p.realized for p in model.periods],
            name="realized",
            mode="lines+markers",
        )
    )
    shadowed = any(p.shadow for p in model.periods)
    if shadowed:
        figure.add_trace(
            go.Scatter(
                x=periods,
                y=[p.shadow["realized"] if p.shadow else None for p in model.periods],
                name="shadow (kept challenger)",
                mode="markers",
                marker={"symbol": "diamond"},
            )
        )
    figure.update_layout(yaxis_title=metric)
    rows = [
        [
            _e(p.period),
            f"v{p.model_version}" if p.model_version else "-",
            _num(trained),
            _band(p.estimated) if p.estimated else "-",
            _num(p.realized),
        ]
        + ([_shadow_cell(p.shadow)] if shadowed else [])
        for p, trained in zip(model.periods, at_training)
    ]
    head = ["period", "version", "at training", "estimated (95% band)", "realized"]
    return [
        _chart(figure, "performance", f"{metric} over time"),
        _table(f"{metric} per period", head + (["shadow"] if shadowed else []), rows),
    ]


def _shadow_cell(shadow: dict[str, Any] | None) -> str:
    if not shadow:
        return "-"
    return f"{_num(shadow['realized'])} (v{_e(str(shadow['version']))})"


FIRST_TRAINING = "first training"
EVENTS = {
    "promote": "promoted",
    "refuse": "refused",
    "rollback": "rolled back",
    "keep": "kept",
}


def _timeline(model: ModelFacts) -> list[str]:
    import plotly.graph_objects as go

    # when, version, event, why, source, period: a cycle's events happen within a second of
    # each other, so the chart places them by the period whose run trained the version.
    events: list[tuple[str, str, str, str, str, str]] = []
    trained_in = {f"v{v.version}": v.period or FIRST_TRAINING for v in model.versions}
    for version in model.versions:
        name = f"v{version.version}"
        events.append((version.created_at, name, "trained", "-", "-", trained_in[name]))
        if version.decision in ("proposed", "kept", "refused"):
            events.append(
                (version.created_at, name, version.decision, "retrain step", "-", trained_in[name])
            )
    for decision in model.decisions:
        subject = str(decision.get("subject", ""))
        verdict = str(decision.get("verdict", ""))
        if not subject.startswith("v") or verdict not in EVENTS:
            continue
        reasons = "; ".join(decision.get("reasons") or []) or "-"
        events.append(
            (
                str(decision.get("at", "")),
                subject,
                EVENTS[verdict],
                reasons,
                str(decision["source"]),
                trained_in.get(subject, FIRST_TRAINING),
            )
        )
    events.sort()
    if not events:
        return ["<p>No version yet.</p>"]
    periods = sorted({e[5] for e in events}, key=lambda p: (p != FIRST_TRAINING, p))
    figure = go.Figure(
        go.Scatter(
            x=[e[5] for e in events],
            y=[e[2] for e in events],
            mode="markers+text",
            text=[e[1] for e in events],
            textposition="top center",
            hovertext=[e[3] for e in events],
            marker={"size": 12},
        )
    )
    figure.update_layout(
        xaxis={"title": "period that trained the version", "type": "category"},
        xaxis_categoryorder="array",
        xaxis_categoryarray=periods,
        yaxis_title="event",
    )
    pulls = {
        url.rstrip("/").rsplit("/", 1)[-1]: url
        for url in (p.pull_url for p in model.periods)
        if url
    }

    def linked(source: str) -> str:
        # "PR #12" links to the PR when a period's results recorded its address.
        number = source.removeprefix("PR #")
        return _link(pulls[number], source) if number in pulls else _e(source)

    rows = [
        [_e(when[:16]), _e(version), _e(event), _e(why), linked(source)]
        for when, version, event, why, source, _ in reversed(events)
    ]
    return [
        _chart(figure, "timeline", "Version events by period"),
        _table("Decision record, newest first", ["when", "version", "event", "why", "from"], rows),
    ]


def _comparison(model: ModelFacts) -> list[str]:
    found = model.comparison
    if not found:
        return ["<p>No challenger has been compared with the champion yet.</p>"]
    comparison = found.get("comparison") or {}
    new, old = found.get("challenger_version"), found.get("champion_version")
    metrics = sorted(
        set(comparison.get("challenger") or {}) | set(comparison.get("champion") or {})
    )
    rows = [
        [
            _e(name),
            _num((comparison.get("challenger") or {}).get(name)),
            _num((comparison.get("champion") or {}).get(name)),
        ]
        for name in metrics
    ]
    parts = [
        f"<p>{_e(found.get('period', ''))}: challenger v{new} against champion v{old} on "
        f"{_e(comparison.get('evaluated_on', 'the same rows'))}; decision "
        f"<strong>{_e(str(found.get('decision')))}</strong>.</p>",
        _table("Metrics on the same rows", ["metric", f"v{new}", f"v{old}"], rows),
    ]
    fairness = found.get("fairness") or {}
    parts.append("<h3>Fairness</h3>")
    if fairness.get("not_applicable"):
        parts.append(f"<p>{_e(fairness['not_applicable'])}</p>")
    else:
        parts.append(to_html(fairness_markdown(fairness, new, old)))
    importance = found.get("importance") or {}
    parts.append("<h3>Importance ranking</h3>")
    if importance.get("not_applicable"):
        parts.append(f"<p>{_e(importance['not_applicable'])}</p>")
    else:
        champion = {f["feature"]: i + 1 for i, f in enumerate(importance.get("champion") or [])}
        ranked = [
            [str(i + 1), _e(f["feature"]), str(champion.get(f["feature"], "-"))]
            for i, f in enumerate((importance.get("challenger") or [])[:10])
        ]
        correlation = importance.get("rank_correlation")
        parts.append(
            _table(
                "Top features by permutation importance"
                + (f" (rank correlation {correlation:.2f})" if correlation is not None else ""),
                ["rank", "feature", f"rank in v{old}"],
                ranked,
            )
        )
    return parts


def _reports(model: ModelFacts, reports: dict[str, str]) -> list[str]:
    items = [
        f'<li><a href="../{_e(reports[key])}">{_e(p.period)}</a> ({_verdict(p.verdict)})</li>'
        for p in reversed(model.periods)
        if (key := f"{model.name}/{p.period}") in reports
    ]
    if not items:
        return ["<p>No Evidently report was kept with these results.</p>"]
    return ["<ul>", *items, "</ul>"]


# -- helpers ------------------------------------------------------------------------------------
def _chart(figure: Any, name: str, label: str) -> str:
    figure.update_layout(margin={"l": 60, "r": 20, "t": 30, "b": 40}, template="plotly_white")
    if name != "timeline":
        # Periods are labels ("2026-10"), not dates to spread over a calendar axis.
        figure.update_xaxes(type="category")
    div = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{name}",
        config={"displaylogo": False, "responsive": True},
    )
    return f'<figure class="chart" aria-label="{_e(label)}">{div}</figure>'


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    lines = ["<table>", f"<caption>{_e(caption)}</caption>", "<thead><tr>"]
    lines += [f'<th scope="col">{_e(h)}</th>' for h in head]
    lines.append("</tr></thead><tbody>")
    for row in rows:
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _version(model: ModelFacts, number: int | None) -> VersionFacts | None:
    return next((v for v in model.versions if v.version == number), None)


def _trained_metric(model: ModelFacts, number: int | None) -> float | None:
    """The version's primary metric on its held-out test split at training."""
    version = _version(model, number)
    return version.metrics.get(f"test_{model.primary_metric}") if version else None


def _open_pull(model: ModelFacts) -> str | None:
    return next((p.pull_url for p in reversed(model.periods) if p.pull_url), None)


def _age_days(since: str, now: str) -> int | None:
    try:
        start = datetime.fromisoformat(since)
        end = datetime.fromisoformat(now)
    except ValueError:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return max((end - start).days, 0)


def _verdict_words(verdict: str) -> str:
    """The verdict in the issue's words: drift is "detected" (what retrains is another rule)."""
    return "drift detected" if verdict == "drift" else verdict.replace("_", " ")


def _verdict(verdict: str) -> str:
    if verdict == "drift":
        return f'<span class="bad">{_verdict_words(verdict)}</span>'
    return f'<span class="ok">{_e(_verdict_words(verdict) or "-")}</span>'


def _link(url: str | None, label: str) -> str:
    return f'<a href="{_e(url)}">{_e(label)}</a>' if url else "-"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _p(value: float) -> str:
    return "&lt; 1e-16" if value < 1e-16 else f"{value:.3g}"


def _band(estimated: dict[str, float]) -> str:
    return f"{estimated['value']:.3f} ({estimated['lower']:.3f} to {estimated['upper']:.3f})"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
