"""What a reviewer sees: one drift issue per period, one promotion PR, promotion on merge only.

The cycle runs against a real MLflow store and the local GitHub fake; a merged PR's event is
fed to ``pipeline promote --event`` as the promote workflow does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CARD, REPO, alias, checkout_card, merged_event, run_cli, use_trained_store
from fake_github import FULL_NAME, FakeGitHub

from pipeline.config import GitHubTarget
from pipeline.edges.github import GitHub
from pipeline.edges.registry import CHAMPION, PREVIOUS
from pipeline.errors import GateError
from pipeline.reporting.cards import parse_card

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models


def test_two_runs_of_a_period_then_merge_promotes_and_sync_rolls_back(
    gh: FakeGitHub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any challenger that passes the metric gates is proposed, so this month surely proposes.
    monkeypatch.setenv("PIPELINE_ATTRITION_MIN_IMPROVEMENT", "-1")
    first = run_cli("run", "--period", "2026-04", "--simulate-drift")
    assert first.code == 0, first.stderr
    second = run_cli("run", "--period", "2026-04", "--simulate-drift")
    assert second.code == 0, second.stderr

    # One drift issue, updated in place by the second run, linking the one promotion PR.
    [issue] = gh.drift_issues()
    assert issue["title"] == "Drift report: attrition 2026-04"
    assert {lb["name"] for lb in issue["labels"]} == {"drift-report", "drift-detected", "attrition"}
    assert issue["body"].startswith("**Drift detected**")
    assert gh.writes("PATCH", rf"/repos/acme/driftgate/issues/{issue['number']}")
    [pull] = gh.pulls()
    assert f"Promotion PR: #{pull['number']}" in issue["body"]
    assert f"Drift report: #{issue['number']}" in pull["body"]
    assert {lb["name"] for lb in pull["labels"]} == {"model-promotion", "attrition"}
    retrain = json.loads(
        (project / "outputs" / "attrition" / "2026-04" / "retrain.json").read_text()
    )
    version = retrain["challenger_version"]
    assert json.loads(second.stdout)["pull_url"] == json.loads(first.stdout)["pull_url"]
    assert pull["head"]["ref"] == f"promote/attrition-v{version}"
    assert pull["title"] == f"Promote attrition v{version} to champion"

    # The PR changes only the card: the front matter names the challenger, history has its row.
    changed = {
        path
        for (branch, path), text in gh.files.items()
        if branch == pull["head"]["ref"] and gh.files.get(("main", path)) != text
    }
    assert changed == {CARD}
    card = parse_card(gh.files[(pull["head"]["ref"], CARD)], CARD)
    assert card.champion.version == version and card.champion.pr == pull["number"]
    assert card.champion.metrics["roc_auc"] > 0.5
    assert f"| {version} |" in card.body and f"#{pull['number']}" in card.body
    before = parse_card(gh.files[("main", CARD)], CARD)
    hand_written = card.body.split("<!-- driftgate:begin")[0]
    assert hand_written == before.body.split("<!-- driftgate:begin")[0]

    # Merging promotes: champion moves, the former one is kept as previous, the PR hears so.
    old_champion = alias(CHAMPION)
    assert old_champion != version
    gh.merge(pull["number"])
    checkout_card(project, gh)
    promoted = run_cli("promote", "--event", str(merged_event(project, gh, pull["number"])))
    assert promoted.code == 0, promoted.stderr
    assert (alias(CHAMPION), alias(PREVIOUS)) == (version, old_champion)
    assert gh.comments[pull["number"]][-1]["body"].startswith(
        f"Promoted **attrition v{version}** to `champion`"
    )

    # Reverting the merge and syncing is a rollback; syncing again changes nothing.
    (project / "model_cards" / "attrition.md").write_text(
        (REPO / CARD).read_text().replace("version: null", f"version: {old_champion}", 1)
    )
    synced = run_cli("sync")
    assert synced.code == 0, synced.stderr
    assert json.loads(synced.stdout)[0]["changed"] is True
    assert alias(CHAMPION) == old_champion
    again = run_cli("sync")
    assert json.loads(again.stdout)[0]["changed"] is False


@pytest.fixture
def proposal(
    gh: FakeGitHub, project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """A registered version (v2; v1 is champion) and an open promotion PR whose card names it."""
    use_trained_store(project, trained_stores, monkeypatch, "two_versions.db", "promotion.db")
    version = 2
    text = (REPO / CARD).read_text().replace("version: null", f"version: {version}", 1)
    client = GitHub(GitHubTarget.from_env())
    branch = f"promote/attrition-v{version}"
    client.ensure_branch(branch, "main")
    client.write_file(CARD, text, branch, "propose")
    pull = client.upsert_pull(branch, "main", "Promote", "body", ["model-promotion"])
    return pull.number, version


def _refused(project: Path, gh: FakeGitHub, number: int, **changes: Any) -> str:
    champion = alias(CHAMPION)
    result = run_cli("promote", "--event", str(merged_event(project, gh, number, **changes)))
    assert result.code == GateError.exit_code
    assert alias(CHAMPION) == champion
    comment = gh.comments[number][-1]["body"]
    assert comment.startswith("**Not promoted**")
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: PR #{number} did not")
    return comment


def test_an_unmerged_pr_does_not_promote(
    gh: FakeGitHub, project: Path, proposal: tuple[int, int]
) -> None:
    number, _ = proposal
    checkout_card(project, gh, f"promote/attrition-v{proposal[1]}")
    comment = _refused(project, gh, number, merged=False)
    assert "closed without being merged" in comment


def test_an_unlabelled_pr_does_not_promote(
    gh: FakeGitHub, project: Path, proposal: tuple[int, int]
) -> None:
    number, _ = proposal
    gh.merge(number)
    checkout_card(project, gh)
    comment = _refused(project, gh, number, labels=[])
    assert "does not carry the 'model-promotion' label" in comment


def test_a_pr_into_another_branch_does_not_promote(
    gh: FakeGitHub, project: Path, proposal: tuple[int, int]
) -> None:
    number, _ = proposal
    gh.merge(number)
    checkout_card(project, gh)
    comment = _refused(project, gh, number, base={"ref": "release", "sha": "x"})
    assert "merged into 'release', not the default branch 'main'" in comment


def test_a_version_failing_the_gates_does_not_promote(
    gh: FakeGitHub, project: Path, proposal: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    number, version = proposal
    gh.merge(number)
    checkout_card(project, gh)
    monkeypatch.setenv("PIPELINE_ATTRITION_MIN_ROC_AUC", "0.999")
    comment = _refused(project, gh, number)
    assert f"version {version} test roc_auc" in comment and "below the gate 0.999" in comment


def test_a_card_naming_a_missing_version_does_not_promote(
    gh: FakeGitHub, project: Path, proposal: tuple[int, int]
) -> None:
    number, _ = proposal
    gh.merge(number)
    card = (REPO / CARD).read_text().replace("version: null", "version: 9999", 1)
    (project / "model_cards" / "attrition.md").write_text(card)
    comment = _refused(project, gh, number)
    assert "version 9999 does not exist in the registry" in comment


def test_a_failed_run_is_reported_with_its_step(
    gh: FakeGitHub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = project / "no-such-batch.csv"
    result = run_cli("run", "--period", "2026-02", "--current", str(missing))
    assert result.code != 0
    [issue] = [i for i in gh.issues.values() if i["title"].startswith("Driftgate run failed")]
    assert issue["title"] == "Driftgate run failed: attrition 2026-02 (predict)"
    assert "failed at step `predict`" in issue["body"]
    assert f"https://github.com/{FULL_NAME}/actions/runs/4242" in issue["body"]


def test_sync_refuses_a_card_naming_a_version_the_registry_lacks(
    project: Path, trained_stores: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_trained_store(project, trained_stores, monkeypatch, "one_version.db", "sync.db")
    cards = project / "model_cards"
    cards.mkdir(exist_ok=True)
    (cards / "attrition.md").write_text(
        (REPO / CARD).read_text().replace("version: null", "version: 7", 1)
    )
    monkeypatch.setenv("PIPELINE_MODEL_CARDS_DIR", str(cards))
    result = run_cli("sync", "--model", "attrition")
    assert result.code == 4
    assert "names champion v7, which the registry" in result.stderr
    assert "(v1): restore its state (`pipeline state pull`)" in result.stderr
    assert alias(CHAMPION) == 1
