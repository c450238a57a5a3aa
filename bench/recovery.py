"""Does the default policy recover when the world changes? The backtest goals of issue 23.

    python bench/recovery.py [--months 24] [--scenarios sudden concept stable] [--real]

Replays each scenario on attrition with its labels 3 months late (the configured delay), as
`pipeline backtest` does, and prints the table and each goal against what was measured:

- ``sudden`` and ``concept``: the default policy's mean realized ROC AUC at least ``monthly``'s
  minus 0.002, with at most a third of its retrains; every degradation recovered within
  ``label_delay_months + 1`` months; no bad promotion.
- ``stable``: at most 1 retrain and no promotion.
- ``--real`` (needs ../shared/data): a 12-month history of real IBM HR rows, drawn with
  replacement, whose rule behind attrition changes in month 7 (see ``real_history``); the
  default policy must beat ``never`` and come within 0.005 of ``monthly``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import load_settings
from pipeline.results import read_json
from pipeline.steps.backtest import backtest_step

IBM = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm_hr_attrition.csv"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def judge_change(name: str, result: dict, delay: int) -> list[str]:
    default, monthly = result["policies"]["default"], result["policies"]["monthly"]
    lines = []
    gap = default["mean_metric"] - monthly["mean_metric"]
    lines.append(
        f"{name}: default mean ROC AUC {default['mean_metric']:.4f} vs monthly "
        f"{monthly['mean_metric']:.4f} ({gap:+.4f}; goal >= -0.002): {verdict(gap >= -0.002)}"
    )
    share = default["retrains"] / max(monthly["retrains"], 1)
    lines.append(
        f"{name}: default retrains {default['retrains']} vs monthly {monthly['retrains']} "
        f"({share:.2f}; goal <= 1/3): {verdict(share <= 1 / 3)}"
    )
    recoveries = default["recoveries"]
    worst = None if any(r is None for r in recoveries) else max(recoveries, default=0)
    ok = bool(recoveries) and worst is not None and worst <= delay + 1
    lines.append(
        f"{name}: months to recover {recoveries} (goal each <= {delay + 1}): {verdict(ok)}"
    )
    lines.append(
        f"{name}: bad promotions {default['bad_promotions']} (goal 0): "
        f"{verdict(default['bad_promotions'] == 0)}"
    )
    return lines


def judge_stable(result: dict) -> list[str]:
    default = result["policies"]["default"]
    ok = default["retrains"] <= 1 and default["promotions"] == 0
    return [
        f"stable: default retrains {default['retrains']}, promotions {default['promotions']} "
        f"(goal <= 1 and 0): {verdict(ok)}"
    ]


def real_history(months: int = 12, rows: int = 400, change: int = 7, seed: int = 0) -> pd.DataFrame:
    """Real HR rows per month (with replacement), the attrition rule changed from ``change`` on.

    Before: the table's own labels. From month ``change`` (1-based): who leaves is decided by
    a different rule, the table's rows ranked by a score that weighs commute, business travel
    and few years at the company, with the table's own attrition rate; the inputs do not move.
    """
    table = pd.read_csv(IBM, encoding="utf-8-sig")
    rng = np.random.default_rng(seed)
    rate = float((table["Attrition"] == "Yes").mean())
    frames = []
    for index in range(months):
        frame = table.sample(rows, replace=True, random_state=seed + index).reset_index(drop=True)
        frame["EmployeeNumber"] = np.arange(rows) + (index + 1) * 10**6
        if index + 1 >= change:
            score = (
                0.15 * frame["DistanceFromHome"]
                + 1.2 * (frame["BusinessTravel"] == "Travel_Frequently")
                - 0.25 * frame["YearsAtCompany"].clip(upper=10)
                + rng.logistic(size=rows)
            )
            leaving = score.rank(ascending=False) <= round(rate * rows)
            frame["Attrition"] = np.where(leaving, "Yes", "No")
        frame["Date"] = pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=index)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--scenarios", nargs="*", default=["sudden", "concept", "stable"])
    parser.add_argument("--real", action="store_true", help="also the real history (../shared)")
    args = parser.parse_args()
    settings = load_settings()
    config = settings.model("attrition")
    delay = config.label_delay_months
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for scenario in args.scenarios:
            started = time.perf_counter()
            out = Path(folder) / scenario
            table = backtest_step(settings, config, out, scenario=scenario, months=args.months)
            print(table)
            result = read_json(out / "backtest.json")
            print(f"({scenario}: {time.perf_counter() - started:.0f} s)\n")
            if scenario == "stable":
                verdicts += judge_stable(result)
            else:
                verdicts += judge_change(scenario, result, delay)
        if args.real:
            if not IBM.exists():
                print(f"--real: {IBM} is not here; skipped")
            else:
                path = Path(folder) / "history.csv"
                real_history().to_csv(path, index=False)
                out = Path(folder) / "real"
                table = backtest_step(
                    settings, config, out, history=path, time_column="Date", warmup=3
                )
                print(table)
                policies = read_json(out / "backtest.json")["policies"]
                default, never = policies["default"], policies["never"]
                monthly = policies["monthly"]
                ok = default["mean_metric"] > never["mean_metric"] and (
                    default["mean_metric"] >= monthly["mean_metric"] - 0.005
                )
                verdicts.append(
                    f"real history: default {default['mean_metric']:.4f}, never "
                    f"{never['mean_metric']:.4f}, monthly {monthly['mean_metric']:.4f} (goal: "
                    f"above never, within 0.005 of monthly): {verdict(ok)}"
                )
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
