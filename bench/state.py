"""How large the state branch grows: 24 monthly runs of a model, each in a clean clone.

    python bench/state.py [--model attrition] [--months 24] [--drift-every 4]

Each month is one workflow run as a fork without an MLflow server has it: a fresh clone of a
local bare "origin", `pipeline state pull`, `pipeline run` (dry run, drifted every Nth month),
`pipeline state push`, then the clone is deleted. Prints, per run, the model's files on the
branch, the whole branch's tip, the commits kept and the bare repository's size on disk after
`git gc` (what a fork stores), against the goal of 50 MB after 24 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_MB = 50.0
PIPELINE = str(Path(sys.executable).parent / "pipeline")


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def month(start: str, offset: int) -> str:
    year, number = (int(x) for x in start.split("-"))
    index = year * 12 + number - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="attrition")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2025-01")
    parser.add_argument("--drift-every", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        origin = root / "origin.git"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(origin))
        seed = root / "seed"
        seed.mkdir()
        shutil.copyfile(REPO / "pyproject.toml", seed / "pyproject.toml")
        shutil.copytree(REPO / "model_cards", seed / "model_cards")
        git("init", "--quiet", "--initial-branch=main", cwd=seed)
        git("add", "-A", cwd=seed)
        git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "main", cwd=seed)
        git("push", "--quiet", str(origin), "main", cwd=seed)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "MLFLOW_"))}
        print(
            f"{'run':>3}  {'period':7}  {'drift':5}  {'model MB':>8}  {'tip MB':>7}  "
            f"{'commits':>7}  {'repo MB':>7}  {'seconds':>7}"
        )
        started_all = time.perf_counter()
        repo_mb = 0.0
        for index in range(args.months):
            period = month(args.start, index)
            drifted = args.drift_every > 0 and (index + 1) % args.drift_every == 0
            clone = root / f"run-{index}"
            git("clone", "--quiet", str(origin), str(clone))
            run_env = {**env, "PIPELINE_CONFIG": str(clone / "pyproject.toml")}
            started = time.perf_counter()

            def pipeline(*argv: str, _clone: Path = clone, _env: dict[str, str] = run_env) -> str:
                done = subprocess.run(
                    [PIPELINE, *argv, "--model", args.model],
                    cwd=_clone,
                    env=_env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise SystemExit(f"pipeline {' '.join(argv)} failed: {done.stderr[-500:]}")
                return done.stdout

            pipeline("state", "pull")
            pipeline("run", "--period", period, "--dry-run", "--simulate-drift", str(drifted))
            pushed = json.loads(pipeline("state", "push", "--period", period, "--step", "run"))
            seconds = time.perf_counter() - started
            shutil.rmtree(clone)
            git("--git-dir", str(origin), "gc", "--quiet", "--prune=now")
            repo_mb = disk_mb(origin)
            print(
                f"{index + 1:>3}  {period:7}  {'yes' if drifted else 'no':5}  "
                f"{pushed['model_bytes'] / 2**20:>8.2f}  {pushed['state_bytes'] / 2**20:>7.2f}  "
                f"{pushed['commits_kept']:>7}  {repo_mb:>7.2f}  {seconds:>7.1f}",
                flush=True,
            )
        total = time.perf_counter() - started_all
    verdict = "met" if repo_mb <= GOAL_MB else "MISSED"
    print(
        f"\nafter {args.months} runs: repository {repo_mb:.1f} MB on disk (goal <= {GOAL_MB:.0f} "
        f"MB: {verdict}); {total:.0f} s in all"
    )


if __name__ == "__main__":
    main()
