"""A soak: 100 rounds of report + promote against a GitHub that fails at random, as GitHub does.

One call in about seven fails (seeded): a 502 that applied nothing, a 502 after the write was
applied, 429 or a secondary-limit 403 with Retry-After, an exhausted primary limit with its
reset. Re-running a period's report ten times and the merged PR's promotion every round after
the merge must leave exactly what one clean run would: one drift issue per period, one PR, one
outcome comment, no doubled label or commit, the card on main as the PR proposed it.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import CARD, alias, checkout_card, merged_event, use_trained_store
from fake_github import FakeGitHub

from pipeline.config import GitHubTarget, load_settings
from pipeline.edges.registry import CHAMPION
from pipeline.reporting.publish import publish_report
from pipeline.steps.promote import promote_from_event

GOLDEN = Path(__file__).resolve().parent / "golden" / "attrition"
PERIODS = [f"2027-{month:02d}" for month in range(1, 11)]
ROUNDS, FAULT_RATE, SEED = 100, 0.15, 20261125


@pytest.mark.slow
def test_a_hundred_rounds_under_random_faults_leave_one_of_everything(
    gh: FakeGitHub, project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_trained_store(project, trained_stores, monkeypatch, "two_versions.db", "soak.db")
    settings = load_settings()
    config = settings.model("attrition")
    for index, period in enumerate(PERIODS):
        # Even periods propose challenger v2 (October's results), odd ones are plain months.
        source = GOLDEN / ("2026-10" if index % 2 == 0 else "2026-08")
        shutil.copytree(source, settings.output_dir_for("attrition", period))
    target = GitHubTarget.from_env()
    gh.chaos(FAULT_RATE, SEED)

    merged: int | None = None
    proposed_card = ""
    for round_number in range(ROUNDS):
        period = PERIODS[round_number // (ROUNDS // len(PERIODS))]
        out_dir = settings.output_dir_for("attrition", period)
        publication = publish_report(settings, config, out_dir, target, dry_run=False)
        if publication.pull is not None and merged is None:
            # A reviewer merges the PR (the fake's own hand, not an API call that may fail).
            proposed_card = gh.files[("promote/attrition-v2", CARD)]
            gh.merge(publication.pull.number)
            merged = publication.pull.number
            checkout_card(project, gh)
        if merged is not None:
            promote_from_event(settings, config, merged_event(project, gh, merged), target)

    calls = len(gh.requests)
    faults = sum(gh.injected.values())
    print(f"\n{faults} faults injected in {calls} calls over {ROUNDS} rounds: {gh.injected}")
    assert faults >= calls / 10 and set(gh.injected) >= {"502", "502-applied", "429"}

    issues = Counter(
        re.search(r"period=(\S+) -->", issue["body"]).group(1)  # type: ignore[union-attr]
        for issue in gh.drift_issues()
    )
    assert issues == Counter({period: 1 for period in PERIODS})
    assert len(gh.pulls()) == 1 and merged is not None
    for number, comments in gh.comments.items():
        bodies = [c["body"] for c in comments]
        assert len(bodies) == len(set(bodies)), f"#{number} has a doubled comment"
    outcome = [c["body"] for c in gh.comments[merged]]
    assert len(outcome) == 1 and "Promoted **attrition v2**" in outcome[0]
    for issue in gh.issues.values():
        names = [label["name"] for label in issue["labels"]]
        assert len(names) == len(set(names)), f"#{issue['number']} has a doubled label"
    commits = [
        r
        for r in gh.requests
        if r.method == "PUT" and r.path.endswith(CARD) and (r.status < 400 or r.applied)
    ]
    assert len(commits) == 2  # the card, then the card naming its PR: never a third
    assert gh.files[("main", CARD)] == proposed_card
    assert alias(CHAMPION) == 2
