"""Kill Driftgate at an external write, run it again, and compare the end state with a clean run.

A month's jobs in one checkout, as a self-hosted runner or a terminal runs them, against a
registry that outlives the process (the checkout's SQLite store, as ``cycle.sh`` uses), the
local fake GitHub and a state branch in a bare Git repository:

1. ``pipeline state pull``;
2. ``pipeline run`` of a drifted month: drift, retrain, the drift issue and the promotion PR;
3. a reviewer merges the PR (the fake's own hand) and the checkout gets the merged card;
4. ``pipeline promote --event`` with the merged PR's event;
5. ``pipeline state push``.

Each external write passes a failpoint (``pipeline.edges.failpoints``). A clean pass lists them;
a trial kills one command with SIGKILL at one of them, runs that command again to completion,
runs the rest, and checks what a user would look at: one drift issue, one PR, no comment twice,
one champion that the PR proposed and the card on main names, a version a killed run left
recorded as abandoned, and a state branch the next ``state pull`` accepts.

Each command is a process of its own, forked from one that has imported MLflow, Evidently
and skops (``tests/forkserver.py``): started with ``python -m pipeline`` the scenario's
20-odd commands spent more time importing than working.

Used by ``tests/test_crash.py`` (a few points) and ``bench/crash.py`` (all of them).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_github import TOKEN, FakeGitHub
from forkserver import ForkServer

REPO = Path(__file__).resolve().parents[1]
MODEL, PERIOD = "attrition", "2026-04"
CARD = f"model_cards/{MODEL}.md"
SMALL = {
    "PIPELINE_ATTRITION_TRAINING_ROWS": "1500",
    "PIPELINE_ATTRITION_BATCH_ROWS": "1000",
    "PIPELINE_ATTRITION_SEARCH_ITERATIONS": "1",
    "PIPELINE_ATTRITION_CV_FOLDS": "2",
    "PIPELINE_ATTRITION_LABEL_DELAY_MONTHS": "0",
    # Any challenger that passes the metric gates is proposed: the month surely opens a PR.
    "PIPELINE_ATTRITION_MIN_IMPROVEMENT": "-1",
    # One fit at a time, in the command's own process: a search's worker processes would each
    # start Python and import scikit-learn again for a two-fold, one-candidate search.
    "PIPELINE_JOBS": "1",
}
COMMANDS = ("run", "promote", "push")
# What the fake GitHub holds, saved and restored with the checkout.
_FAKE_STATE = ("labels", "issues", "comments", "branches", "files", "next_number", "next_id")


@dataclass(frozen=True)
class KillPoint:
    command: str  # one of COMMANDS
    index: int  # the N-th failpoint that command passes
    name: str  # what the write was

    def __str__(self) -> str:
        return f"{self.command} #{self.index} ({self.name})"


@dataclass
class EndState:
    """What a user sees once the month's jobs are done."""

    issues: list[str]
    pulls: list[tuple[str, bool]]  # title, merged
    comments: dict[str, int]  # per thread: how many
    doubled_comments: list[str]
    champion: int | None
    previous: int | None
    card_champion: int | None
    proposed: int | None  # the version the PR proposed
    abandoned: list[int]
    unexplained_versions: list[int]  # neither kept, nor recorded as abandoned
    state_pull: str  # "ok" or the error a later pull gives
    problems: list[str] = field(default_factory=list)

    def differences(self, clean: EndState) -> list[str]:
        """How this end state breaks the guarantees, against a clean run's."""
        found = list(self.problems)
        if self.issues != clean.issues:
            found.append(f"drift issues {self.issues}, clean run {clean.issues}")
        if len(self.pulls) != 1 or not self.pulls[0][1]:
            found.append(f"promotion PRs {self.pulls}: one merged PR expected")
        if self.comments != clean.comments:
            found.append(f"comments per thread {self.comments}, clean run {clean.comments}")
        if self.doubled_comments:
            found.append(f"comments posted twice: {self.doubled_comments}")
        if self.champion is None or self.champion != self.proposed:
            found.append(f"champion v{self.champion}, the PR proposed v{self.proposed}")
        if self.card_champion != self.champion:
            found.append(f"the card on main names v{self.card_champion}, champion v{self.champion}")
        if self.previous != clean.previous:
            found.append(f"previous v{self.previous}, clean run v{clean.previous}")
        if self.unexplained_versions:
            found.append(f"versions neither kept nor abandoned: {self.unexplained_versions}")
        if self.state_pull != "ok":
            found.append(f"the next state pull refuses: {self.state_pull}")
        return found


class Scenario:
    """One checkout, one fake GitHub, one state remote: a trial's whole world."""

    def __init__(self, root: Path, trained_db: Path, trained_artifacts: Path) -> None:
        self.root = root
        self.project = root / "checkout"
        self.project.mkdir(parents=True)
        shutil.copyfile(trained_db, self.project / "mlruns.db")
        self.remote = root / "state.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", str(self.remote)], check=True, capture_output=True
        )
        self.github = FakeGitHub().start()
        cards = self.project / "model_cards"
        cards.mkdir()
        for card in sorted((REPO / "model_cards").glob("*.md")):
            self.github.files[("main", f"model_cards/{card.name}")] = card.read_text()
            shutil.copy(card, cards / card.name)
        self.env = environment(self.project, trained_artifacts, self.github.url, self.remote)
        # Each command a process of its own, forked from one that imported the libraries.
        try:
            self.server = ForkServer(self.env)
        except BaseException:
            self.github.stop()
            raise
        self.pull_number: int | None = None
        self._saved: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.server.close()
        self.github.stop()

    # -- snapshots: a trial starts where the command it kills starts -------------------------
    def save(self, name: str) -> None:
        """The checkout, the state remote and GitHub as they are now."""
        saved = self.root / "saved" / name
        for folder in (self.project, self.remote):
            shutil.copytree(folder, saved / folder.name, symlinks=True)
        self._saved[name] = copy.deepcopy({k: getattr(self.github, k) for k in _FAKE_STATE})

    def restore(self, name: str) -> None:
        saved = self.root / "saved" / name
        for folder in (self.project, self.remote):
            shutil.rmtree(folder)
            shutil.copytree(saved / folder.name, folder, symlinks=True)
        for key, value in copy.deepcopy(self._saved[name]).items():
            setattr(self.github, key, value)

    # -- the jobs ----------------------------------------------------------------------------
    def command(self, name: str) -> list[str]:
        if name == "run":
            return ["run", "--model", MODEL, "--period", PERIOD, "--simulate-drift"]
        if name == "promote":
            return ["promote", "--event", str(self.project / "merged.json")]
        if name == "push":
            return ["state", "push", "--model", MODEL, "--period", PERIOD]
        raise ValueError(name)

    def call(
        self, name: str, kill_at: int | None = None, log: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if kill_at is not None:
            env["DRIFTGATE_KILL_AT"] = str(kill_at)
        if log is not None:
            env["DRIFTGATE_FAILPOINT_LOG"] = str(log)
        return self.server.run(self.command(name), self.project, env)

    def ok(self, name: str, log: Path | None = None) -> None:
        done = self.call(name, log=log)
        if done.returncode != 0:
            raise AssertionError(f"pipeline {name} failed ({done.returncode}): {done.stderr}")

    def between(self, finished: str) -> None:
        """What happens outside Driftgate after a command: pull first, the reviewer's merge."""
        if finished == "pull":
            return
        if finished == "run":
            [pull] = self.github.pulls()
            self.pull_number = pull["number"]
            self.github.merge(pull["number"])
            # actions/checkout of the merge: the card as main now has it.
            (self.project / CARD).write_text(self.github.files[("main", CARD)])
            event = self.github.event(pull["number"])
            (self.project / "merged.json").write_text(json.dumps(event))

    def pull_state(self) -> None:
        done = pipeline("state", "pull", "--model", MODEL, cwd=self.project, env=self.env)
        if done.returncode != 0:
            raise AssertionError(f"pipeline state pull failed: {done.stderr}")

    def clean(self, logs: Path) -> list[KillPoint]:
        """Every job once, nothing killed; returns the failpoints each command passed.

        The world is saved before each command, for the trials that kill it."""
        self.pull_state()
        points: list[KillPoint] = []
        for name in COMMANDS:
            self.save(name)
            log = logs / f"{name}.log"
            self.ok(name, log)
            names = log.read_text().splitlines() if log.exists() else []
            points += [KillPoint(name, i + 1, n) for i, n in enumerate(names)]
            self.between(name)
        return points

    def trial(self, point: KillPoint) -> str:
        """From the world as it was before ``point``'s command: kill the command there, run it
        again, finish the month. Returns "killed", or "not reached" when it ended first."""
        self.restore(point.command)
        outcome = "not reached"
        for name in COMMANDS[COMMANDS.index(point.command) :]:
            if name == point.command:
                done = self.call(name, kill_at=point.index)
                if done.returncode == -signal.SIGKILL:
                    outcome = "killed"
                    self.ok(name)
                elif done.returncode != 0:
                    raise AssertionError(f"pipeline {name} failed before its kill: {done.stderr}")
            else:
                self.ok(name)
            self.between(name)
        return outcome

    # -- what a user sees --------------------------------------------------------------------
    def end_state(self) -> EndState:
        import sqlite3

        github = self.github
        issues = sorted(i["title"] for i in github.drift_issues())
        pulls = [(p["title"], bool(p.get("merged"))) for p in github.pulls()]
        comments, doubled = {}, []
        for number, thread in sorted(github.comments.items()):
            kind = "PR" if number in {p["number"] for p in github.pulls()} else "issue"
            bodies = [c["body"] for c in thread]
            comments[kind] = comments.get(kind, 0) + len(bodies)
            doubled += [b[:60] for b, n in Counter(bodies).items() if n > 1]
        db = sqlite3.connect(self.project / "mlruns.db")
        try:
            aliases = dict(
                db.execute(
                    "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (MODEL,)
                ).fetchall()
            )
            versions = [
                int(v)
                for (v,) in db.execute(
                    "SELECT version FROM model_versions WHERE name = ?", (MODEL,)
                ).fetchall()
            ]
            tags = db.execute(
                "SELECT version, value FROM model_version_tags WHERE name = ? AND key LIKE ?",
                (MODEL, "driftgate.record.%"),
            ).fetchall()
        finally:
            db.close()
        abandoned = sorted(
            {int(v) for v, value in tags if json.loads(value).get("verdict") == "abandoned"}
        )
        card = github.files.get(("main", CARD), "")
        card_version = _card_champion(card)
        proposed = None
        if pulls:
            title = pulls[0][0]
            proposed = int(title.split(" v", 1)[1].split()[0]) if " v" in title else None
        kept = {aliases.get("champion"), aliases.get("previous"), proposed}
        unexplained = sorted(v for v in versions if v not in kept and v not in abandoned)
        return EndState(
            issues=issues,
            pulls=pulls,
            comments=comments,
            doubled_comments=doubled,
            champion=aliases.get("champion"),
            previous=aliases.get("previous"),
            card_champion=card_version,
            proposed=proposed,
            abandoned=abandoned,
            unexplained_versions=unexplained,
            state_pull=self.next_pull(),
        )

    def next_pull(self) -> str:
        """A new runner's `state pull` from the branch this checkout pushed to."""
        runner = self.root / "next-runner"
        if runner.exists():
            shutil.rmtree(runner)
        (runner / "model_cards").mkdir(parents=True)
        (runner / CARD).write_text(self.github.files[("main", CARD)])
        env = {
            **self.env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{runner / 'mlruns.db'}",
            "PIPELINE_OUTPUT_DIR": str(runner / "outputs"),
            "PIPELINE_DATA_DIR": str(runner / "data"),
            "PIPELINE_MODEL_CARDS_DIR": str(runner / "model_cards"),
            "PIPELINE_STATE_DIR": str(runner / ".driftgate" / "state"),
        }
        done = pipeline("state", "pull", "--model", MODEL, cwd=runner, env=env)
        if done.returncode != 0:
            return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        retrain = runner / "outputs" / MODEL / PERIOD / "retrain.json"
        if not retrain.exists():
            return "the pulled state has no retrain.json for the month"
        return "ok"


def pipeline(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """One `pipeline` command run to its end, as a job step runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _card_champion(text: str) -> int | None:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("version:"):
            value = stripped.split(":", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None


def environment(project: Path, artifacts: Path, github_url: str, remote: Path) -> dict[str, str]:
    """A job's environment: this checkout's settings and store, the fake GitHub, the remote."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPELINE_", "MLFLOW_", "GITHUB_", "DRIFTGATE_"))
    }
    return {
        **keep,
        **SMALL,
        "PIPELINE_CONFIG": str(REPO / "pyproject.toml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlruns.db'}",
        "PIPELINE_MLFLOW_ARTIFACT_ROOT": str(artifacts),
        "PIPELINE_OUTPUT_DIR": str(project / "outputs"),
        "PIPELINE_DATA_DIR": str(project / "data"),
        "PIPELINE_MODEL_CARDS_DIR": str(project / "model_cards"),
        "PIPELINE_STATE_REMOTE": str(remote),
        "PIPELINE_STATE_DIR": str(project / ".driftgate" / "state"),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/driftgate",
        "GITHUB_API_URL": github_url,
        "GITHUB_RUN_ID": "4242",
        "PIPELINE_GITHUB_BACKOFF": "0.01",
        "PIPELINE_GITHUB_WRITE_INTERVAL": "0",
        "PIPELINE_GITHUB_MAX_WAIT": "5",
        "PIPELINE_GITHUB_WAIT_SCALE": "0.01",
    }


def train_store(folder: Path) -> tuple[Path, Path]:
    """A registry whose v1 is the champion, trained once: (its database, its artifacts)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **environment(folder, folder / "artifacts", "http://127.0.0.1:9", folder / "none.git"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'trained.db'}",
    }
    for key in [k for k in env if k.startswith("GITHUB_")]:
        del env[key]
    done = pipeline("train", "--model", MODEL, cwd=folder, env=env)
    if done.returncode != 0:
        raise AssertionError(f"pipeline train failed: {done.stderr}")
    return folder / "trained.db", folder / "artifacts"
