"""Golden files of what reviewers read, rendered from fixed JSON results.

The inputs in tests/golden/attrition/ are the JSON files of a real three-month run (a plain
August and September, a drifted October whose challenger v2 is proposed). The rendered drift
issue, promotion PR and model card are compared byte for byte with tests/__snapshots__/; a
change to their format fails here until the snapshot is updated on purpose with
``pytest tests/test_golden.py --snapshot-update`` and the diff is reviewed with the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pipeline.reporting.cards import CardFacts, parse_card, refresh_card, render_card, with_champion
from pipeline.reporting.report import RunResults, load_results, render_issue, render_pull
from pipeline.results import read_json

GOLDEN = Path(__file__).resolve().parent / "golden" / "attrition"
RUN_URL = "https://github.com/acme/driftgate/actions/runs/4242"


class MarkdownSnapshot(SingleFileSnapshotExtension):
    """One readable .md file per snapshot, so a format change is reviewed as a Markdown diff."""

    _write_mode = WriteMode.TEXT
    file_extension = "md"


@pytest.fixture
def markdown(snapshot: Any) -> Any:
    return snapshot.use_extension(MarkdownSnapshot)


def october() -> RunResults:
    results = load_results(GOLDEN / "2026-10", "attrition", "2026-10", RUN_URL, "sqlite:///x.db")
    results.github = {"pull": {"number": 12, "url": "https://github.com/acme/driftgate/pull/12"}}
    return results


def as_text(title: str, labels: list[str], body: str) -> str:
    return f"title: {title}\nlabels: {', '.join(labels)}\n\n{body}"


def test_the_drift_issue_of_a_drifted_month(markdown: Any) -> None:
    draft = render_issue(october())
    assert as_text(draft.title, draft.labels, draft.body) == markdown


def test_the_drift_issue_of_a_plain_month_run_outside_github(markdown: Any) -> None:
    draft = render_issue(load_results(GOLDEN / "2026-09", "attrition", "2026-09"))
    assert as_text(draft.title, draft.labels, draft.body) == markdown


def test_the_promotion_pull_request(markdown: Any) -> None:
    draft = render_pull(october(), issue_number=11)
    assert as_text(draft.title, draft.labels, draft.body) == markdown


def test_the_model_card_the_promotion_pr_commits(markdown: Any) -> None:
    on_main = (GOLDEN / "model_card_on_main.md").read_text(encoding="utf-8")
    card = parse_card(on_main, "model_card_on_main.md")
    facts = CardFacts.from_json(read_json(GOLDEN / "2026-10" / "card.json"))
    retrain = read_json(GOLDEN / "2026-10" / "retrain.json")
    metrics = {k: float(v) for k, v in retrain["comparison"]["challenger"].items()}
    promoted = with_champion(
        refresh_card(card, facts),
        int(retrain["challenger_version"]),
        str(retrain["challenger_run_id"]),
        metrics,
        "2026-10-31",
        f"{retrain['reasons'][-1]} (drift report #11)",
        12,
    )
    assert render_card(promoted) == markdown
