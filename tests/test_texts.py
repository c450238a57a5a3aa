"""What reviewers read comes from templates a fork can replace, file by file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.reporting.report import (
    RunResults,
    render_failure,
    render_issue,
    report_banner,
)

DRIFT = {
    "drift_detected": True,
    "reasons": ["2 of 30 features drifted: age, 'income'"],
    "n_features": 30,
    "n_drifted_features": 2,
    "per_column_threshold": 0.00167,
    "feature_alpha": 0.05,
    "features": [
        {"name": "age", "test": "ks", "score": 1e-9, "threshold": 0.00167, "drifted": True},
        {"name": "<b>x</b>", "test": "ks", "score": 0.4, "threshold": 0.00167, "drifted": False},
    ],
}


def test_a_fork_template_replaces_the_package_one_and_the_rest_stay(tmp_path: Path) -> None:
    (tmp_path / "issue.md.j2").write_text(
        "Owner: @ml-team\n\n{{ sections.verdict }}\n\n{{ sections.marker }}\n"
        "{{ results.drift.n_drifted_features }} drifted\n"
    )
    results = RunResults("attrition", "2026-11", drift=DRIFT, templates_dir=str(tmp_path))
    body = render_issue(results).body
    assert body.startswith("Owner: @ml-team\n\n**Drift detected**: 2 of 30 features drifted")
    assert "<!-- driftgate:" in body and body.endswith("2 drifted\n")
    # Not overridden: the package's own.
    failure = render_failure("attrition", "2026-11", "drift", "boom", None, str(tmp_path))
    assert failure.startswith("**The 2026-11 run of `attrition` failed at step `drift`**")
    default = render_issue(RunResults("attrition", "2026-11", drift=DRIFT)).body
    assert "Owner" not in default and "| age |" in default


def test_the_html_verdict_escapes_what_it_shows() -> None:
    banner = report_banner(DRIFT)
    assert "&lt;b&gt;x&lt;/b&gt;" in banner and "<b>x</b>" not in banner
    assert "&#39;income&#39;" in banner
    assert "<h1>Driftgate verdict: Drift detected</h1>" in banner


def test_a_broken_template_or_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "issue.md.j2").write_text("{{ sections.nothing_like_this }}")
    results = RunResults("attrition", "2026-11", drift=DRIFT, templates_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"template issue.md.j2 \(.*\): .*nothing_like_this"):
        render_issue(results)
    missing = RunResults("attrition", "2026-11", drift=DRIFT, templates_dir=str(tmp_path / "no"))
    with pytest.raises(ConfigError, match="is not a folder"):
        render_issue(missing)


def test_the_setting_resolves_against_the_project(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    settings = load_settings(repo / "pyproject.toml", {"PIPELINE_TEMPLATES_DIR": "texts"})
    assert settings.templates_folder() == str(repo / "texts")
    assert load_settings(repo / "pyproject.toml", {}).templates_folder() == ""


def test_a_fork_changes_the_model_cards_sections_and_its_first_card(tmp_path: Path) -> None:
    from test_cards import _facts

    from pipeline.reporting.cards import new_card, refresh_card, render_card, section

    (tmp_path / "card_section.md.j2").write_text(
        "{% if name == 'performance' %}Owner: @ml-team (v{{ facts.version }})\n\n{% endif %}"
        "{{ content }}"
    )
    (tmp_path / "card.md.j2").write_text(
        "\n# {{ model }}\n\n{% for title, block in generated %}## {{ title }}\n\n{{ block }}\n\n"
        "{% endfor %}## Promotion history\n\n{{ history }}\n"
    )
    card = new_card("attrition", "Predicts attrition.", str(tmp_path))
    assert card.body.startswith("\n# attrition\n\n## Training data\n") and "Intended use" not in (
        card.body
    )
    refreshed = refresh_card(card, _facts(), str(tmp_path))
    performance = section(refreshed.body, "performance") or ""
    assert performance.startswith("Owner: @ml-team (v")
    assert not (section(refreshed.body, "features") or "").startswith("Owner")
    # The package's own first card names the hand-written sections a team fills in.
    own = render_card(new_card("attrition", "Predicts attrition."))
    assert "## Intended use" in own and "## Known limitations" in own


def test_a_fork_frames_every_dashboard_page_and_keeps_the_charts(tmp_path: Path) -> None:
    from test_dashboard import facts

    from pipeline.reporting.dashboard import render_site

    forks = tmp_path / "texts"
    forks.mkdir()
    (forks / "dashboard_page.html.j2").write_text(
        (
            Path(__file__).resolve().parents[1]
            / "pipeline"
            / "reporting"
            / "templates"
            / "dashboard_page.html.j2"
        )
        .read_text()
        .replace("</main>", "</main>\n<footer>Owned by {{ 'ML <team>' }}</footer>")
    )
    site = tmp_path / "site"
    render_site(facts(), site, {}, templates_dir=str(forks))
    for page in (site / "index.html", site / "models" / "attrition.html"):
        assert "<footer>Owned by ML &lt;team&gt;</footer>" in page.read_text()
    model_page = (site / "models" / "attrition.html").read_text()
    assert "<figure" in model_page and "../assets/plotly.min.js" in model_page
    assert "plotly.min.js" not in (site / "index.html").read_text()


def test_the_documented_example_of_a_fork_issue_renders(tmp_path: Path) -> None:
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "cycle.md").read_text()
    [example] = re.findall(r"```jinja\n(.*?)```", page, re.S)
    (tmp_path / "issue.md.j2").write_text(example)
    results = RunResults("attrition", "2026-11", drift=DRIFT, templates_dir=str(tmp_path))
    body = render_issue(results).body
    assert body.startswith("Owner: @acme/ml-platform.")
    assert "**Drift detected**: 2 of 30 features drifted" in body
    assert "<!-- driftgate:drift-report model=attrition period=2026-11 -->" in body
