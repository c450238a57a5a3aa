"""Where a new user waits: the cycle, the test suite and its fast subset, on a fresh clone.

    python bench/waits.py [--skip-suite]

Clones this checkout's HEAD into a temporary folder (with ``../shared`` beside it when this
checkout has one, as CI has it), installs it as ``scripts/bootstrap.sh`` does, then times, one
run each and in this order:

1. ``bash scripts/cycle.sh`` (its install already done, so what is left is the cycle);
2. ``bash scripts/test.sh -m "not slow"``, the fast subset: pytest's own time;
3. ``bash scripts/test.sh``, the whole suite: pytest's own time, as ``.ci/run`` runs it.

Each figure is printed against issue 28's goal; the clone is removed at the end. The suite
needs what CI has (PostgreSQL at 127.0.0.1:5432; ``CI=true`` is set, so its tests run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Issue 28's goals, in seconds.
GOALS = {"cycle": 120, "fast subset": 30, "suite": 240}
# pytest's last line: "365 passed, 3 skipped, 4 subtests passed in 236.37s (0:03:56)".
PYTEST_SUMMARY = re.compile(r"^=*\s*(?P<counts>\d+ passed.*?) in (?P<seconds>[\d.]+)s", re.M)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n" + "\n".join(tail))
    return seconds, done.stdout + done.stderr


def _pytest_seconds(output: str, what: str) -> tuple[float, str]:
    found = list(PYTEST_SUMMARY.finditer(output))
    if not found:
        raise SystemExit(f"{what}: no pytest summary line in its output")
    last = found[-1]
    return float(last["seconds"]), last["counts"]


def _line(what: str, seconds: float, detail: str) -> str:
    goal = GOALS[what]
    verdict = "met" if seconds <= goal else "MISSED"
    return f"{what:<12} {seconds:7.1f} s  (goal {goal} s: {verdict}){detail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-suite", action="store_true", help="the cycle and the subset only")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="driftgate-waits-") as folder:
        clone = Path(folder) / "driftgate"
        _run(["git", "clone", "--quiet", str(REPO), str(clone)], Path(folder), dict(os.environ))
        if SHARED.exists():
            (Path(folder) / "shared").symlink_to(SHARED)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIPELINE_", "MLFLOW_", "VIRTUAL_ENV"))
        }
        env["CI"] = "true"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a new machine
        # The dev install first (test.sh's): "once dev, always dev", so cycle.sh then only
        # checks it.
        install_seconds, _ = _run(
            ["bash", "-c", "source scripts/bootstrap.sh"],
            clone,
            {**env, "DRIFTGATE_INSTALL": "dev"},
        )
        print(f"fresh clone of {head}; install (dev extras) {install_seconds:.1f} s, not counted")

        cycle_seconds, _ = _run(["bash", "scripts/cycle.sh"], clone, env)
        lines = [_line("cycle", cycle_seconds, "  bash scripts/cycle.sh, three models")]
        print(lines[-1], flush=True)

        _, output = _run(["bash", "scripts/test.sh", "-m", "not slow"], clone, env)
        seconds, counts = _pytest_seconds(output, "the fast subset")
        lines.append(_line("fast subset", seconds, f"  pytest's time; {counts}"))
        print(lines[-1], flush=True)

        if not args.skip_suite:
            _, output = _run(["bash", "scripts/test.sh"], clone, env)
            seconds, counts = _pytest_seconds(output, "the suite")
            lines.append(_line("suite", seconds, f"  pytest's time; {counts}"))
            print(lines[-1], flush=True)
    print("\n".join(["", f"where people wait, fresh clone of {head}:", *lines]))


if __name__ == "__main__":
    main()
