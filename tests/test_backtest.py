"""`pipeline backtest`: the retrain policies replayed on a synthetic or a user's own history."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import files_in, run_cli

from pipeline.config import ModelConfig
from pipeline.model.scenarios import SCENARIOS
from pipeline.model.synthetic import generate
from pipeline.monitoring.backtest import POLICIES

pytestmark = pytest.mark.slow  # trains and replays models month by month


@pytest.fixture
def delayed(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINE_ATTRITION_LABEL_DELAY_MONTHS", "1")
    return project


def test_a_sudden_shift_is_replayed_under_every_policy(delayed: Path) -> None:
    done = run_cli("backtest", "--scenario", "sudden", "--months", "6", "--out", "bt")
    assert done.code == 0, done.stderr
    result = json.loads((delayed / "bt" / "backtest.json").read_text())
    assert result["default_policy"] == "default" and result["label_delay_months"] == 1
    assert list(result["policies"]) == list(POLICIES)
    for summary in result["policies"].values():
        assert set(summary) == {
            "retrains",
            "promotions",
            "mean_metric",
            "worst_metric",
            "months_below_gate",
            "false_alarms",
            "missed_degradations",
            "recoveries",
            "months_to_recover",
            "bad_promotions",
            "recovering",
        }
        assert summary["promotions"] <= summary["retrains"]
        assert summary["worst_metric"] <= summary["mean_metric"]
    never, monthly = result["policies"]["never"], result["policies"]["monthly"]
    assert never["retrains"] == 0 and monthly["retrains"] >= 4
    assert [m["period"] for m in result["months"]] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    first = result["months"][0]["policies"]
    assert {p["action"] for p in first.values()} == {"serve"}  # no label has arrived yet
    assert all(0.5 < p["metric"] <= 1 for p in first.values())

    markdown = (delayed / "bt" / "backtest.md").read_text()
    assert done.stdout.strip() == markdown.strip()
    assert "| **default** |" in markdown and "xychart-beta" in markdown
    progress = [line for line in done.stderr.splitlines() if line.startswith("backtest ")]
    assert len(progress) == 6 and progress[-1].startswith("backtest 2025-06 (6/6): never serve")


def _history(config: ModelConfig, months: int, rows: int = 300) -> pd.DataFrame:
    frames = []
    for index in range(months):
        frame = generate(config, rows, seed=index, start_id=(index + 1) * 10**6)
        frame["scored_at"] = pd.Timestamp(2024, index + 1, 1) + pd.to_timedelta(
            range(rows), unit="min"
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_your_own_dated_history_is_replayed_month_by_month(
    delayed: Path, config: ModelConfig
) -> None:
    _history(config, 6).to_parquet(delayed / "history.parquet", index=False)
    done = run_cli(
        "backtest", "--history", "history.parquet", "--time-column", "scored_at", "--out", "own"
    )
    assert done.code == 0, done.stderr
    result = json.loads((delayed / "own" / "backtest.json").read_text())
    # Three months train the first champion; the other three are replayed.
    assert [m["period"] for m in result["months"]] == ["2024-04", "2024-05", "2024-06"]
    assert result["source"] == "history.parquet"


@pytest.mark.parametrize(
    "edit, args, message",
    [
        (
            lambda f: f.drop(columns=["scored_at"]),
            ["--time-column", "scored_at"],
            "error: history.csv has no column 'scored_at' (the --time-column)",
        ),
        (
            lambda f: f.assign(scored_at=["soon"] * 2 + list(f["scored_at"][2:])),
            ["--time-column", "scored_at"],
            "error: history.csv: 2 value(s) of 'scored_at' are not dates (e.g. 'soon')",
        ),
        (
            lambda f: f,
            ["--time-column", "scored_at", "--warmup", "4"],
            "error: history.csv covers 4 month(s) of 'scored_at'; the backtest needs more than "
            "--warmup 4: 4 to train the first champion, then one to replay",
        ),
        (
            lambda f: f,
            [],
            "error: --history needs --time-column: the column that dates each row",
        ),
    ],
    ids=["no-time-column", "unparsable-dates", "too-few-months", "time-column-not-named"],
)
def test_a_bad_history_is_one_line_and_writes_nothing(
    project: Path, config: ModelConfig, edit: object, args: list[str], message: str
) -> None:
    history = edit(_history(config, 4, rows=120))  # type: ignore[operator]
    history.to_csv(project / "history.csv", index=False)
    done = run_cli("backtest", "--history", "history.csv", *args, "--out", "bt")
    assert done.code == 3
    assert done.stderr.strip().splitlines()[-1] == message
    assert files_in(project / "bt") == []


def test_the_command_line_offers_every_scenario() -> None:
    from pipeline.cli import SCENARIOS as OFFERED

    assert OFFERED == SCENARIOS


def test_months_too_small_or_of_one_class_keep_the_champion_and_say_why(
    delayed: Path, config: ModelConfig
) -> None:
    """Bad input is said, not crashed on: months whose labels cannot compare two models."""
    history = _history(config, 8, rows=300)
    dates = pd.to_datetime(history["scored_at"])
    late = dates >= pd.Timestamp(2024, 4, 1)
    # From April on, nobody leaves: a single class, and the champion's realized ROC AUC is
    # undefined; May is also tiny.
    history.loc[late, "Attrition"] = "No"
    may = dates.dt.month == 5
    history = history[~may | (history.groupby(may.cumsum()).cumcount() < 30)]
    history.to_parquet(delayed / "history.parquet", index=False)
    done = run_cli(
        "backtest",
        "--history",
        "history.parquet",
        "--time-column",
        "scored_at",
        "--out",
        "bad",
    )
    assert done.code == 0, done.stderr
    result = json.loads((delayed / "bad" / "backtest.json").read_text())
    monthly = [m["policies"]["monthly"] for m in result["months"]]
    assert all(m["action"] in ("serve", "retrain-keep") for m in monthly)
    kept = [m for m in monthly if m["action"] == "retrain-keep"]
    assert kept and all("too few to compare" in m["reasons"][-1] for m in kept)
