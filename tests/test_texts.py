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
