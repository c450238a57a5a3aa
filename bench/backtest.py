"""How long `pipeline backtest` takes: 24 months x 5 policies on the attrition model.

    python bench/backtest.py [--scenario sudden] [--months 24]

Runs the backtest as the command does (in a temporary folder) and prints its time against the
goal of one minute on this machine's two cores, with the policies' table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipeline.config import load_settings
from pipeline.steps.backtest import backtest_step

GOAL_SECONDS = 60  # issue 28 (it was 120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="sudden")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--model", default="attrition")
    args = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        table = backtest_step(
            settings,
            settings.model(args.model),
            Path(folder),
            scenario=args.scenario,
            months=args.months,
        )
        seconds = time.perf_counter() - started
    print(table)
    verdict = "met" if seconds <= GOAL_SECONDS else "MISSED"
    print(
        f"backtest {args.model} {args.scenario}: {args.months} months x 5 policies in "
        f"{seconds:.1f} s (goal: {GOAL_SECONDS} s): {verdict}"
    )


if __name__ == "__main__":
    main()
