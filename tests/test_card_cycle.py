"""What a reviewer reads: the model card after a drifted month and a merged promotion PR, and a
better challenger held back by the fairness gate. Real MLflow store, local GitHub fake."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import CARD, REPO, alias, checkout_card, merged_event, run_cli, use_empty_store
from fake_github import FakeGitHub
from test_cards import hand_written

from pipeline.edges.registry import CHAMPION
from pipeline.errors import GateError
from pipeline.reporting.cards import parse_card, section

pytestmark = pytest.mark.slow  # end to end: real MLflow stores and trained models


@pytest.fixture
def fresh(project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry of its own: the card's history holds this test's periods only."""
    use_empty_store(project, empty_store, monkeypatch, "cards.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "artifacts"))
    return project


def _dataset_inputs(version: int) -> dict[str, Any]:
    """The (context, name) of the datasets MLflow recorded for version's training run and the
    2026-06 predict and drift runs; "digests": each dataset's digest by name."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    run_id = client.get_model_version("attrition", str(version)).run_id
    runs = {"train": client.get_run(run_id)}
    for step in ("predict", "drift"):
        [runs[step]] = client.search_runs(
            [runs["train"].info.experiment_id],
            filter_string=(
                f"tags.`driftgate.step` = '{step}' and tags.`driftgate.period` = '2026-06'"
            ),
        )
    found: dict[str, Any] = {"digests": {}}
    for step, run in runs.items():
        found[step] = set()
        for item in run.inputs.dataset_inputs:
            context = {tag.key: tag.value for tag in item.tags}["mlflow.data.context"]
            found[step].add((context, item.dataset.name))
            found["digests"][item.dataset.name] = item.dataset.digest
    return found


def _outputs(project: Path, period: str, name: str, model: str = "attrition") -> dict[str, Any]:
    path = project / "outputs" / model / period / name
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _drifted_month_then_merge(
    project: Path, gh: FakeGitHub, model: str
) -> tuple[int, dict[str, Any], str]:
    """A plain month, a drifted one, the promotion PR merged and promoted, the card on main
    regenerated: (the new champion, the PR, the card's text)."""
    plain = run_cli("run", "--model", model, "--period", "2026-05")
    assert plain.code == 0, plain.stderr
    drifted = run_cli("run", "--model", model, "--period", "2026-06", "--simulate-drift")
    assert drifted.code == 0, drifted.stderr
    version = int(_outputs(project, "2026-06", "retrain.json", model)["challenger_version"])
    [issue] = [i for i in gh.drift_issues() if i["title"].endswith(f"{model} 2026-06")]
    [pull] = [p for p in gh.pulls() if p["head"]["ref"] == f"promote/{model}-v{version}"]
    assert f"Promotion PR: #{pull['number']}" in issue["body"]

    gh.merge(pull["number"])
    card = f"model_cards/{model}.md"
    checkout_card(project, gh, card=card)
    event = str(merged_event(project, gh, pull["number"]))
    promoted = run_cli("promote", "--model", model, "--event", event)
    assert promoted.code == 0, promoted.stderr
    assert alias(CHAMPION, model) == version

    # `pipeline card` on main regenerates nothing: the PR's card came from the same generator.
    carded = run_cli("card", "--model", model)
    assert carded.code == 0, carded.stderr
    assert json.loads(carded.stdout)["changed"] is False
    return version, pull, (project / card).read_text()


def test_a_drifted_month_and_a_merged_promotion_update_the_card(
    gh: FakeGitHub, fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_ATTRITION_MIN_IMPROVEMENT", "-1")  # surely a proposal
    version, pull, text = _drifted_month_then_merge(fresh, gh, "attrition")
    assert "## Fairness" in pull["body"] and "| Gender | Female |" in pull["body"]
    assert f"Rank correlation (Spearman) between v1 and v{version}" in pull["body"]
    card = parse_card(text, CARD)
    assert card.champion.version == version and card.champion.pr == pull["number"]
    assert card.champion.metrics["roc_auc"] > 0.5

    history = section(card.body, "promotion-history") or ""
    assert f"| {version} |" in history and f"#{pull['number']}" in history
    performance = section(card.body, "performance") or ""
    assert "| 2026-05 | v1 |" in performance and "| 2026-06 | v1 |" in performance
    assert 'x-axis ["2026-05", "2026-06"]' in performance and "```mermaid" in performance
    drift = section(card.body, "drift-history") or ""
    assert "| 2026-05 | v1 | no_drift |" in drift and "| 2026-06 | v1 | drift |" in drift
    assert 'x-axis ["2026-05", "2026-06"]' in drift
    fairness = section(card.body, "fairness") or ""
    for row in ("| Gender | Female |", "| MaritalStatus | Single |", "| Age | <30 |"):
        assert row in fairness
    assert "selection-rate ratio" in fairness and "fairness gate 0.8" in fairness
    importance = section(card.body, "importance") or ""
    assert f"Rank correlation (Spearman) between v1 and v{version}" in importance
    training = section(card.body, "training-data") or ""
    assert f"Version **v{version}**" in training and "2026-06 (earlier half): " in training
    features = section(card.body, "features") or ""
    assert "| MonthlyIncome | numeric | feature |" in features

    # MLflow's dataset tracking shows what each run read, and the card names the same digest.
    inputs = _dataset_inputs(version)
    assert {
        "train": {
            ("training", "attrition-training"),
            ("evaluation", "attrition-2026-06-comparison"),
        },
        "predict": {("scoring", "attrition-2026-06")},
        "drift": {("evaluation", "attrition-2026-06"), ("reference", "attrition-reference")},
    }.items() <= inputs.items()
    training_digest = inputs["digests"]["attrition-training"]
    assert f"MLflow dataset digest of those rows: `{training_digest}`" in training

    # Every hand-written line is as it was before the cycle, byte for byte.
    assert hand_written(text) == hand_written((REPO / CARD).read_text())

    # The decision record names where each verdict came from: the PR, the issue.
    history = run_cli("history").stdout.splitlines()
    number = pull["number"]
    [issue] = [i["number"] for i in gh.drift_issues() if i["title"].endswith("2026-06")]
    promoted = [line for line in history if f" v{version} " in line and " promote " in line]
    assert promoted and f"PR #{number}" in promoted[0]
    drifted = [line for line in history if "2026-06 data  drift" in line]
    assert drifted and f"issue #{issue}" in drifted[0]
    proposed = [line for line in history if " propose " in line]
    assert proposed and f"retrain 2026-06 (issue #{issue}, PR #{number})" in proposed[0]


def test_the_second_model_runs_the_same_cycle_from_its_settings_alone(
    gh: FakeGitHub, fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_MACHINE_FAILURE_MIN_IMPROVEMENT", "-1")
    version, pull, text = _drifted_month_then_merge(fresh, gh, "machine_failure")
    assert {lb["name"] for lb in pull["labels"]} == {"model-promotion", "machine_failure"}
    drift = _outputs(fresh, "2026-06", "drift.json", "machine_failure")
    assert "tool_wear_min" in drift["drifted_features"]
    card = parse_card(text, "model_cards/machine_failure.md")
    assert card.model == "machine_failure" and card.champion.version == version
    features = section(card.body, "features") or ""
    assert "| failure | categorical | target | ok, failed |" in features
    assert "Not measured: no sensitive attributes" in (section(card.body, "fairness") or "")
    assert "| 2026-06 | v1 | drift |" in (section(card.body, "drift-history") or "")
    original = (REPO / "model_cards" / "machine_failure.md").read_text()
    assert hand_written(text) == hand_written(original)
    # The first model is untouched by the second's cycle.
    assert alias(CHAMPION) is None


def test_the_card_of_a_first_version_describes_it_alone(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = fresh / "model_cards"
    cards.mkdir()
    monkeypatch.setenv("PIPELINE_MODEL_CARDS_DIR", str(cards))
    (cards / "attrition.md").write_text((REPO / CARD).read_text())
    assert run_cli("train").code == 0
    carded = run_cli("card")
    assert carded.code == 0, carded.stderr
    assert json.loads(carded.stdout)["version"] == 1  # the registry's champion: none in the card
    body = parse_card((cards / "attrition.md").read_text(), CARD).body
    importance = section(body, "importance") or ""
    assert "No champion to compare with" in importance
    assert re.search(r"\| 1 \| \w+ \| \d\.\d{4} ± \d\.\d{4} \| - \|", importance)
    fairness = section(body, "fairness") or ""
    assert "Measured on held-out test split" in fairness and "| Gender | Female |" in fairness
    assert "training.parquet: 1500 rows" in (section(body, "training-data") or "")
    assert "No period monitored yet." in (section(body, "drift-history") or "")


def test_a_better_challenger_failing_the_fairness_gate_is_refused(
    gh: FakeGitHub, fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = fresh
    # Gate the age bands too: the synthetic attrition falls with age, so does the selection.
    settings = (REPO / "pyproject.toml").read_text()
    gated = settings.replace('gate_attributes = ["Gender"]', 'gate_attributes = ["Gender", "Age"]')
    assert gated != settings
    (project / "pyproject.toml").write_text(gated)
    monkeypatch.setenv("PIPELINE_CONFIG", str(project / "pyproject.toml"))

    result = run_cli("run", "--period", "2026-06", "--simulate-drift")
    assert result.code == 0, result.stderr
    retrain = _outputs(project, "2026-06", "retrain.json")
    assert retrain["decision"] == "refuse"
    comparison = retrain["comparison"]
    assert comparison["challenger"]["roc_auc"] > comparison["champion"]["roc_auc"]
    why = "challenger fails the fairness gate: Age selection-rate ratio"

    [issue] = gh.drift_issues()
    first_line = issue["body"].splitlines()[0]
    assert first_line.startswith("**Drift detected**")
    assert f"but is refused: {why}" in first_line and "champion v1 keeps serving" in first_line
    [pull] = gh.pulls()
    assert pull["draft"] is True
    assert pull["title"].startswith("[blocked: fairness gate] Promote attrition v2")
    assert pull["body"].startswith("**Blocked:") and why in pull["body"]

    # Merging it anyway promotes nothing: promote re-checks the gate and says so on the PR.
    gh.merge(pull["number"])
    checkout_card(project, gh)
    refused = run_cli("promote", "--event", str(merged_event(project, gh, pull["number"])))
    assert refused.code == GateError.exit_code
    assert alias(CHAMPION) == 1
    comment = gh.comments[pull["number"]][-1]["body"]
    assert comment.startswith("**Not promoted**")
    assert "version 2 on its comparison rows fails the fairness gate: Age" in comment
