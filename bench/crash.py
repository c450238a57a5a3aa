"""Crash consistency, the long form: kill the month's jobs at every external write.

    python bench/crash.py [--only run|promote|push]

One clean pass of the scenario in ``tests/crash.py`` (state pull, a drifted month's run, the
reviewer's merge, promote, state push) lists the failpoints each command passes: every registry
write, every GitHub write, the state push. Then, for each of them, a trial starts from the world
as it was before that command, kills the command there with SIGKILL, runs it again to completion,
finishes the month and compares what a user sees with the clean pass (one drift issue, one
merged PR, no comment twice, the champion the PR proposed and the card names, abandoned versions
recorded, a state branch the next pull accepts). Prints each kill point's outcome and
"survived N of M"; exits 1 if any did not survive.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from crash import Scenario, train_store  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("run", "promote", "push"))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="driftgate-crash-") as folder:
        root = Path(folder)
        db, artifacts = train_store(root / "trained")
        scenario = Scenario(root / "world", db, artifacts)
        try:
            logs = root / "failpoints"
            logs.mkdir()
            points = scenario.clean(logs)
            clean = scenario.end_state()
            print(f"clean pass: {len(points)} kill points; end state {clean}")
            if args.only:
                points = [p for p in points if p.command == args.only]
            survived, tried = 0, 0
            for point in points:
                tick = time.perf_counter()
                try:
                    outcome = scenario.trial(point)
                    problems = scenario.end_state().differences(clean)
                except AssertionError as error:
                    outcome, problems = "failed", [str(error).splitlines()[-1]]
                tried += 1
                survived += outcome == "killed" and not problems
                verdict = "survived" if outcome == "killed" and not problems else outcome
                print(
                    f"{verdict:>11}  {point}  ({time.perf_counter() - tick:.0f} s)"
                    + "".join(f"\n             - {p}" for p in problems),
                    flush=True,
                )
        finally:
            scenario.close()
    print(
        f"kill points survived: {survived} of {tried} "
        f"(goal: all, at least 30 points; {time.perf_counter() - started:.0f} s in all)"
    )
    return 0 if survived == tried and tried >= (30 if not args.only else 1) else 1


if __name__ == "__main__":
    sys.exit(main())
