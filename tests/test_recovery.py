"""The loop closes: a changed world, its labels, a challenger of the new world, the merge.

What ``scripts/cycle.sh`` shows a newcomer (``pipeline walkthrough``), on the attrition model
with labels a month late: two ordinary months, then the world changes (concept and covariate
drift). Last month's run ingests the changed month's labels, sees the realized drop, locates
the change and trains its challenger on the candidate windows; the promotion PR states the
paired difference; the played merge promotes it, and this month is served by the new champion.
And the shadow: a kept challenger scores beside the champion and is proposed on its months.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_cli, use_empty_store

from pipeline.config import ModelConfig, load_settings
from pipeline.edges.registry import CHAMPION, Registry
from pipeline.model.periods import current_period, shift_month
from pipeline.model.synthetic import generate
from pipeline.steps.dashboard import gather_model

pytestmark = pytest.mark.slow  # five monthly cycles and two trainings on a real MLflow store


@pytest.fixture
def changed(project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_empty_store(project, empty_store, monkeypatch, "recovery.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "artifacts"))
    monkeypatch.setenv("PIPELINE_ATTRITION_LABEL_DELAY_MONTHS", "1")
    monkeypatch.setenv("PIPELINE_ATTRITION_BATCH_ROWS", "1600")
    # The text model walks beside it (its labels come with the batch), on small months.
    monkeypatch.setenv("PIPELINE_SMS_SPAM_TRAINING_ROWS", "800")
    monkeypatch.setenv("PIPELINE_SMS_SPAM_BATCH_ROWS", "600")
    cards = project / "cards"
    cards.mkdir()
    for name in ("attrition", "sms_spam"):
        shutil.copy(REPO / "model_cards" / f"{name}.md", cards / f"{name}.md")
    monkeypatch.setenv("PIPELINE_MODEL_CARDS_DIR", str(cards))
    return project


def test_the_walkthrough_closes_the_loop_a_changed_world_learned_proposed_merged_served(
    changed: Path,
) -> None:
    """`pipeline walkthrough`, what scripts/cycle.sh runs, on attrition with labels a month
    late: two ordinary months, two changed ones, the played merge, this month (the text model
    walking beside it in a second process)."""
    this = current_period()
    before, changed_month, proposed = (shift_month(this, -n) for n in (3, 2, 1))
    done = run_cli("walkthrough", "--models", "attrition", "sms_spam", "--jobs", "2")
    assert done.code == 0, done.stderr
    version = json.loads(
        (changed / "outputs" / "attrition" / proposed / "retrain.json").read_text()
    )["challenger_version"]
    attrition_line, sms_line = done.stdout.strip().splitlines()
    assert attrition_line == (
        f"attrition: world changed in {changed_month}; v{version} promoted by the played "
        f"merge; issues in {changed / 'outputs' / 'attrition'}/<period>/issue.md"
    )
    assert sms_line.startswith(f"sms_spam: world changed in {proposed}; ")
    # Side by side, each model's log is whole and in model order, and kept beside its outputs.
    logs = [
        (changed / "outputs" / name / "walkthrough.log").read_text()
        for name in ("attrition", "sms_spam")
    ]
    assert all(log and log in done.stderr for log in logs)
    assert done.stderr.index(logs[0]) < done.stderr.index(logs[1])
    outputs = changed / "outputs" / "attrition"
    # Two ordinary months scored and checked, no issue; the changed month's drift issue,
    # written before any of its labels exist.
    assert (outputs / before / "drift.json").exists() and not (
        outputs / before / "issue.md"
    ).exists()
    assert (outputs / changed_month / "issue.md").read_text().startswith("**Drift detected")

    # Last month: the changed month's labels arrived and show the drop; the change is located
    # there, the only month since it, so it is split in time: its earlier half learned, its
    # later half judges.
    retrain = json.loads((outputs / proposed / "retrain.json").read_text())
    assert any(f"on {changed_month} dropped by" in reason for reason in retrain["trigger"])
    windows = retrain["windows"]
    assert windows["change_period"] == changed_month
    assert [c["window"] for c in windows["candidates"]] == ["window", "since_change", "weighted"]
    assert all(c["validation_score"] is not None for c in windows["candidates"])
    assert windows["evaluated_on"].startswith(
        f"the later half of {changed_month}'s labelled rows (800, in the order"
    )
    assert retrain["decision"] == "promote", retrain["reasons"]
    paired = retrain["comparison"]["paired"]
    assert paired["method"] == "DeLong" and paired["rows"] == 800
    assert paired["lower"] > 0 and paired["probability_better"] >= 0.975

    issue = (outputs / proposed / "issue.md").read_text()
    assert "| window | months | rows | validation roc_auc |" in issue
    assert f"Chosen: {windows['why']}." in issue
    pull = (outputs / proposed / "promotion_pr.md").read_text()
    assert "95% interval" in pull and "challenger better with probability" in pull

    # The played merge: the card the PR commits is in the cards folder, the event beside it.
    event = json.loads((outputs / proposed / "merged_event.json").read_text())
    assert event["pull_request"]["merged"] is True
    assert event["pull_request"]["head"]["ref"] == f"promote/attrition-v{version}"
    card = (changed / "cards" / "attrition.md").read_text()
    assert f"version: {version}" in card
    settings = load_settings()
    champion = Registry(settings, settings.model("attrition")).by_alias(CHAMPION)
    assert champion is not None and champion.version == version

    # This month is served by the new champion, its drift measured against what it learned.
    served = json.loads((outputs / this / "predict.json").read_text())
    assert served["model_version"] == version
    # It learned only half a month of the new world: as last month's labels arrive it is
    # retrained on more of it (the catch-up), until it has learned as much as its predecessor.
    catch_up = json.loads((outputs / this / "retrain.json").read_text())
    assert any(
        r.startswith(f"the champion learned only 800 rows since the change in {changed_month}")
        for r in catch_up["trigger"]
    ), catch_up["trigger"]


def test_a_kept_challenger_shadows_the_champion_and_is_proposed_on_its_months(
    changed: Path, config: ModelConfig
) -> None:
    """A challenger kept earlier scores every batch beside the champion; once the labels of
    those months arrive, both are judged on every row they both scored, and it is proposed."""
    settings = load_settings()
    registry = Registry(settings, config)
    first = run_cli("run", "--period", "2026-03", "--steps", "predict,drift", "--dry-run")
    assert first.code == 0, first.stderr
    # v2 learned the world that is coming (concept drift), and was kept: it becomes the shadow.
    world = changed / "new_world.csv"
    data = generate(config, 1500, seed=77, drift="concept", start_id=77 * 10**6)
    data.to_csv(world, index=False)
    trained = run_cli("train", "--data", str(world))
    assert trained.code == 0, trained.stderr
    shadow = registry.by_alias("challenger")
    assert shadow is not None and shadow.version == 2
    registry.tag_version(2, "driftgate.decision", "keep")

    for period in ("2026-04", "2026-05"):
        done = run_cli("run", "--period", period, "--simulate-drift", "--dry-run")
        assert done.code == 0, done.stderr
    outputs = changed / "outputs" / "attrition"
    april = outputs / "2026-04"
    assert json.loads((april / "shadow" / "predict.json").read_text())["model_version"] == 2
    # April's labels arrived in May: the champion's and the shadow's realized metrics.
    performance = json.loads((april / "performance.json").read_text())
    assert performance["model_version"] == 1 and performance["shadow"]["model_version"] == 2
    assert performance["shadow"]["metrics"]["roc_auc"] > performance["metrics"]["roc_auc"]

    retrain = json.loads((outputs / "2026-05" / "retrain.json").read_text())
    assert retrain["decision"] == "promote" and retrain["retrained"] is False, retrain["reasons"]
    assert retrain["challenger_version"] == 2
    assert retrain["shadow"]["months"] == ["2026-04"]
    assert retrain["comparison"]["evaluated_on"] == (
        "the 1600 labelled rows of 2026-04 both models scored as the months came"
    )
    assert retrain["reasons"][-1] == "judged on " + retrain["comparison"]["evaluated_on"]
    issue = (outputs / "2026-05" / "issue.md").read_text()
    assert "Challenger v2 (" in issue and "kept earlier, no new training" in issue
    assert (outputs / "2026-05" / "promotion_pr.md").exists()
    # Proposed now, it no longer shadows: its PR awaits a reviewer.
    assert registry.version(2).tags["driftgate.decision"] == "promote"

    # The card and the dashboard show champion and shadow, month by month.
    card = json.loads((outputs / "2026-05" / "card.json").read_text())
    april_card = next(p for p in card["periods"] if p["period"] == "2026-04")
    assert april_card["metric"] == performance["metrics"]["roc_auc"]
    assert april_card["shadow_metric"] == performance["shadow"]["metrics"]["roc_auc"]
    assert april_card["shadow_version"] == 2
    facts = gather_model(settings, config)
    april_page = next(p for p in facts.periods if p.period == "2026-04")
    assert april_page.shadow == {
        "version": 2,
        "realized": performance["shadow"]["metrics"]["roc_auc"],
    }
