"""The durable state: each model's registry, outputs and data on a branch of a Git remote.

A fork with no MLflow server keeps its SQLite registry, the registry's artifacts, ``outputs/``
(the JSON history and the prediction-log export) and ``data/`` (label inbox, recent batches) on
an orphan branch (``driftgate-state``) that ``main`` never merges. Git because every fork
already has it, for free, with history and least-privilege tokens; release assets have no
atomic update, and the Actions cache is evicted after seven days unused.

Layout of the branch, one folder per model so that runs of different models never touch the
same files::

    driftgate-state.json               the branch's marker and schema
    models/<model>/manifest.json       who pushed, when, for which period; the store's checksum
    models/<model>/mlflow/mlruns.db    the model's SQLite store (absent with an MLflow server)
    models/<model>/mlflow/artifacts/   its artifacts (pruned: ``monitoring.retention``)
    models/<model>/outputs/            outputs/<model>/ without the Evidently HTML
    models/<model>/data/               data/<model>/ without batches older than the windows

The git command line does the work (it is on every runner), with a bare clone in ``state_dir``
and no work tree: a push reads the remote's tip into a temporary index, replaces its model's
folder and commits on top, so a concurrent push of another model is re-applied, never forced.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import logging
import random
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig, Settings, StateTarget, child_environment
from pipeline.edges import failpoints
from pipeline.errors import PipelineError
from pipeline.model.periods import is_month, months_between
from pipeline.model.predict import SUMMARY_FILE
from pipeline.monitoring.retention import RetentionPlan
from pipeline.results import read_json_if_exists, write_json_atomic

log = logging.getLogger("pipeline")

STATE_SCHEMA = 1
MARKER = "driftgate-state.json"
MANIFEST = "manifest.json"
PULLED = "driftgate-pulled.json"  # in the local clone: the commit each model was pulled at
STATE_DB = "mlflow/mlruns.db"
# Evidently's HTML reports are about 5 MB each: the workflow keeps them as run artifacts.
EXCLUDED = ("*.html", "*.lock")  # Evidently's pages (kept as run artifacts); run locks
PUSH_ATTEMPTS = 5
# How git says another push won the race (then the attempt starts over): a newer tip, a lease
# that no longer holds, or the remote's ref locked by the concurrent update.
RACED = (
    "[rejected]",
    "stale info",
    "fetch first",
    "non-fast-forward",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
)
AUTHOR = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


class StateError(PipelineError):
    """The state branch is unreachable, corrupt, unrelated, newer, or changed under us."""

    exit_code = 8


@dataclass(frozen=True)
class Workspace:
    """Where one model's state lives in a checkout."""

    model: str
    db: Path | None  # the SQLite file of the tracking URI; None with an MLflow server
    artifact_root: Path
    outputs: Path
    data: Path

    @classmethod
    def of(cls, settings: Settings, config: ModelConfig) -> Workspace:
        uri = settings.tracking_uri_for(config.name)
        db = Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None
        return cls(
            model=config.name,
            db=db,
            artifact_root=settings.path(settings.mlflow_artifact_root).resolve(),
            outputs=settings.path(settings.output_dir) / config.name,
            data=settings.path(settings.data_dir) / config.name,
        )

    @property
    def artifacts(self) -> Path:
        return self.artifact_root / f"driftgate-{self.model}"


@dataclass
class StatePull:
    model: str
    remote: str
    branch: str
    commit: str | None
    fresh: bool
    restored: list[str]
    last_push: dict[str, Any] | None
    message: str


@dataclass
class StatePush:
    model: str
    remote: str
    branch: str
    commit: str | None
    changed: bool
    attempts: int
    commits_kept: int
    squashed: bool
    model_bytes: int
    state_bytes: int
    dropped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    message: str = ""


# -- the local clone ----------------------------------------------------------------------------
class StateRepo:
    """A bare clone of the state branch, driven by the git command line."""

    def __init__(self, folder: Path, target: StateTarget, project_root: Path) -> None:
        self.folder = folder
        self.target = target
        self.url = target.url or _origin_url(project_root)
        self.branch = target.branch
        self.tip_ref = "refs/driftgate/tip"
        if not (folder / "HEAD").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            self.git("init", "--quiet", "--bare")

    @property
    def where(self) -> str:
        return f"branch '{self.branch}' of {_redacted(self.url)}"

    def git(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input_bytes: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        config = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false"]
        if self.target.auth_header:
            config += ["-c", f"http.extraHeader={self.target.auth_header}"]
        environment = child_environment({"GIT_TERMINAL_PROMPT": "0", **(env or {})})
        try:
            done = subprocess.run(
                ["git", *config, "--git-dir", str(self.folder), *args],
                capture_output=True,
                env=environment,
                input=input_bytes,
            )
        except FileNotFoundError:
            raise StateError("git is not installed: the state branch needs it") from None
        if check and done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            line = detail[-1] if detail else f"exit {done.returncode}"
            raise StateError(f"git {args[0]} on {self.where} failed: {_redacted(line)}")
        return done

    def text(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.git(*args, env=env).stdout.decode().strip()

    def remote_tip(self) -> str | None:
        """The branch's newest commit on the remote, or None when the branch does not exist."""
        listed = self.git("ls-remote", "--heads", self.url, f"refs/heads/{self.branch}")
        lines = listed.stdout.decode().split()
        return lines[0] if lines else None

    def fetch(self, tip: str, depth: int) -> None:
        self.git(
            "fetch",
            "--quiet",
            "--no-tags",
            f"--depth={max(depth, 1)}",
            self.url,
            f"+refs/heads/{self.branch}:{self.tip_ref}",
        )
        fetched = self.text("rev-parse", self.tip_ref)
        if fetched != tip:
            # Someone pushed between ls-remote and fetch: the caller starts over.
            raise _Moved()

    def read(self, commit: str, path: str) -> bytes | None:
        done = self.git("cat-file", "blob", f"{commit}:{path}", check=False)
        return done.stdout if done.returncode == 0 else None

    def tree_of(self, commit: str | None, path: str) -> str | None:
        if commit is None:
            return None
        done = self.git("rev-parse", "--verify", "--quiet", f"{commit}:{path}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def extract(self, commit: str, path: str, into: Path) -> Path:
        archive = self.git("archive", "--format=tar", commit, path).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
        return into / path

    def tree_bytes(self, commit: str, path: str = "") -> int:
        args = ["ls-tree", "-r", "-l", commit] + ([path] if path else [])
        total = 0
        for line in self.text(*args).splitlines():
            size = line.split()[3]
            total += int(size) if size.isdigit() else 0
        return total

    # Which commit this checkout last pulled or pushed, per model: a push re-applies on top of
    # the remote only if that model's folder there is still what was pulled.
    def base(self, model: str) -> tuple[bool, str | None]:
        record = read_json_if_exists(self.folder / PULLED)
        return (model in record, record.get(model))

    def set_base(self, model: str, commit: str | None) -> None:
        record = read_json_if_exists(self.folder / PULLED)
        record[model] = commit
        record.pop(f"pushing:{model}", None)
        write_json_atomic(self.folder / PULLED, record)

    # The commit a push is sending, written before it is sent: a run killed after the push
    # landed but before it recorded its new base finds its own commit on the remote, and the
    # next push goes on from it instead of taking it for another run's.
    def pushing(self, model: str) -> str | None:
        found = read_json_if_exists(self.folder / PULLED).get(f"pushing:{model}")
        return str(found) if found else None

    def set_pushing(self, model: str, commit: str) -> None:
        record = read_json_if_exists(self.folder / PULLED)
        record[f"pushing:{model}"] = commit
        write_json_atomic(self.folder / PULLED, record)


class _Moved(Exception):
    """The remote branch moved while it was read: start the attempt over."""


def open_repo(settings: Settings, target: StateTarget) -> StateRepo:
    return StateRepo(settings.path(settings.state_dir), target, settings.project_root)


# -- pull ---------------------------------------------------------------------------------------
def pull_state(
    settings: Settings,
    config: ModelConfig,
    target: StateTarget,
    card_version: int | None,
    fresh: bool = False,
) -> StatePull:
    """Restore the model's state into the checkout; refuse, changing nothing, if it is unsound."""
    repo = open_repo(settings, target)
    space = Workspace.of(settings, config)
    folder = f"models/{config.name}"
    for _ in range(PUSH_ATTEMPTS):
        tip = repo.remote_tip()
        try:
            if tip:
                repo.fetch(tip, depth=1)
        except _Moved:
            continue
        break
    else:
        raise StateError(f"{repo.where} kept moving while it was read; try again")
    if tip:
        _check_marker(repo, tip)
    manifest = _read_manifest(repo, tip, folder) if tip else None
    pulled = StatePull(config.name, _redacted(repo.url), repo.branch, tip, fresh, [], manifest, "")
    if fresh:
        repo.set_base(config.name, tip)
        pulled.message = f"starting {config.name} anew on purpose (--fresh): nothing restored"
        return pulled
    if manifest is None:
        if card_version is not None:
            raise StateError(
                f"{repo.where} has no state for '{config.name}', but its model card names "
                f"champion v{card_version}: the registry is missing. Restore the branch, or "
                "start anew on purpose with `pipeline state pull --fresh`"
            )
        repo.set_base(config.name, tip)
        pulled.message = f"no state for '{config.name}' on {repo.where} yet: starting empty"
        return pulled
    assert tip is not None
    _check_schema(manifest, f"{folder}/{MANIFEST}")
    with tempfile.TemporaryDirectory(dir=repo.folder) as scratch:
        root = repo.extract(tip, folder, Path(scratch))
        db_state = manifest.get("mlflow")
        staged: list[tuple[Path, Path]] = []
        if db_state and space.db is not None:
            db = root / STATE_DB
            _check_db(db, str(db_state.get("sha256", "")), f"{folder}/{STATE_DB}")
            _relocate(db, str(db_state.get("artifact_root", "")), space.artifact_root)
            _refuse_other_models(space.db, config.name)
            staged.append((db, space.db))
            staged.append((root / "mlflow" / "artifacts", space.artifacts))
        elif db_state:
            log.info("MLFLOW_TRACKING_URI names a server: the state's SQLite store is not used")
        staged.append((root / "outputs", space.outputs))
        staged.append((root / "data", space.data))
        pulled.restored = _swap_in(staged)
    repo.set_base(config.name, tip)
    pulled.message = (
        f"restored {config.name} from {repo.where} at {tip[:10]} "
        f"({manifest.get('period', '?')}, pushed by {manifest.get('run', '?')})"
    )
    return pulled


def describe_state(settings: Settings, target: StateTarget) -> dict[str, Any]:
    """The branch's tip, size and each model's manifest, checked, without restoring anything."""
    repo = open_repo(settings, target)
    tip = repo.remote_tip()
    described: dict[str, Any] = {
        "remote": _redacted(repo.url),
        "branch": repo.branch,
        "commit": tip,
        "commits": 0,
        "state_bytes": 0,
        "models": {},
    }
    if tip is None:
        return described
    repo.fetch(tip, depth=max(settings.state_history_commits, 1))
    _check_marker(repo, tip)
    described["commits"] = int(repo.text("rev-list", "--count", tip))
    described["state_bytes"] = repo.tree_bytes(tip)
    listed = (
        repo.text("ls-tree", "--name-only", tip, "models/") if repo.tree_of(tip, "models") else ""
    )
    for path in listed.splitlines():
        name = path.split("/")[-1]
        try:
            manifest = _read_manifest(repo, tip, f"models/{name}") or {}
            _check_schema(manifest, f"models/{name}/{MANIFEST}")
            problem = None
        except StateError as exc:
            manifest, problem = {}, str(exc)
        described["models"][name] = {
            "problem": problem,
            "period": manifest.get("period"),
            "step": manifest.get("step"),
            "run": manifest.get("run"),
            "pushed_at": manifest.get("pushed_at"),
            "bytes": repo.tree_bytes(tip, f"models/{name}"),
            "mlflow": bool(manifest.get("mlflow")),
        }
    return described


# -- push ---------------------------------------------------------------------------------------
def push_state(
    settings: Settings,
    config: ModelConfig,
    target: StateTarget,
    period: str,
    step: str,
    retention: Callable[[], RetentionPlan | None] | None,
) -> StatePush:
    """Commit the model's state on top of the remote's tip and push it, never by force.

    ``retention`` decides which artifacts the state keeps; it is asked once the checkout is
    known to be fit to push (pulled before, one model in its store).

    A push rejected because another run pushed first is retried: re-read the remote, check
    that the other run did not touch this model's folder, re-apply this model's folder on top.
    """
    repo = open_repo(settings, target)
    space = Workspace.of(settings, config)
    folder = f"models/{config.name}"
    pulled, base = repo.base(config.name)
    if not pulled:
        raise StateError(
            f"this checkout has not pulled '{config.name}' from {repo.where}: run "
            "`pipeline state pull` first (pushing without it would overwrite the state)"
        )
    if space.db is not None:
        _refuse_other_models(space.db, config.name)
    plan = retention() if retention else None
    with tempfile.TemporaryDirectory(dir=repo.folder) as scratch:
        snapshot = Path(scratch) / "tree"
        dropped = _snapshot(settings, config, space, snapshot / folder, period, step, target, plan)
        (snapshot / MARKER).write_text(
            json.dumps({"kind": "driftgate-state", "schema": STATE_SCHEMA}, indent=2) + "\n",
            encoding="utf-8",
        )
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                result = _push_once(repo, settings, config, snapshot, folder, base, period, step)
            except _Moved:
                result = None
            if result is not None:
                result.attempts = attempt
                result.dropped = dropped
                if result.commit:
                    repo.set_base(config.name, result.commit)
                limit = settings.state_warn_mb * 1024 * 1024
                if result.state_bytes > limit:
                    result.warnings.append(
                        f"the state is {result.state_bytes / 2**20:.1f} MB, above "
                        f"state_warn_mb={settings.state_warn_mb:g}: lower state_prune_days or "
                        "move the registry to an MLflow server"
                    )
                for warning in result.warnings:
                    log.warning("%s", warning)
                return result
            log.info(
                "the state branch moved (another run pushed): re-applying, attempt %d", attempt
            )
            time.sleep(min(0.2 * attempt, 2.0) * (1 + random.random()))
    raise StateError(
        f"could not push the state of '{config.name}' to {repo.where} after {PUSH_ATTEMPTS} "
        "attempts: other runs kept pushing; run the job again"
    )


def _push_once(
    repo: StateRepo,
    settings: Settings,
    config: ModelConfig,
    snapshot: Path,
    folder: str,
    base: str | None,
    period: str,
    step: str,
) -> StatePush | None:
    keep = max(settings.state_history_commits, 1)
    tip = repo.remote_tip()
    if tip:
        repo.fetch(tip, depth=keep)
        _check_marker(repo, tip)
        if tip == repo.pushing(config.name):
            base = tip  # this checkout's own push, whose end it did not see
        if tip != base and repo.tree_of(tip, folder) != repo.tree_of(base, folder):
            subject = repo.text("log", "-1", "--format=%s", tip)
            raise StateError(
                f"another run changed the state of '{config.name}' on {repo.where} since this "
                f"one pulled it (now '{subject}'); not overwriting it: one model's runs must not "
                "overlap (the workflows' concurrency group keeps them apart)"
            )
    with tempfile.NamedTemporaryFile(dir=repo.folder, prefix="index-") as index:
        env = {"GIT_INDEX_FILE": index.name}
        if tip:
            repo.git("read-tree", tip, env=env)
        else:
            repo.git("read-tree", "--empty", env=env)
        repo.git("rm", "-r", "--cached", "--quiet", "--ignore-unmatch", folder, env=env)
        repo.git("--work-tree", str(snapshot), "add", "--force", MARKER, folder, env=env)
        tree = repo.text("write-tree", env=env)
        changed = repo.text("diff", "--cached", "--name-only", tip, env=env) if tip else "new"
    # The manifest alone (who pushed, when) is no change: a read-only job adds no commit.
    if tip and changed.splitlines() in ([], [f"{folder}/{MANIFEST}"]):
        return _pushed(repo, config, tip, folder, changed=False, squashed=False)
    message = (
        f"{config.name} {period}: {step} ({repo.target.run_label})\n\n"
        + (f"Run: {repo.target.run_url}\n" if repo.target.run_url else "")
        + f"Driftgate-Model: {config.name}\nDriftgate-Period: {period}\n"
    )
    parent, squashed = tip, False
    if tip and int(repo.text("rev-list", "--count", tip)) >= keep:
        parent, squashed = _squashed(repo, tip, keep - 1), True
    commit = repo.text(
        "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message, env=_author()
    )
    push = ["push", "--porcelain", repo.url, f"{commit}:refs/heads/{repo.branch}"]
    if squashed:
        # The one non-fast-forward update: it replaces only the exact tip it squashed (a lease);
        # had anyone pushed since, it is rejected and the attempt starts over.
        push.insert(2, f"--force-with-lease=refs/heads/{repo.branch}:{tip}")
    repo.set_pushing(config.name, commit)
    done = repo.git(*push, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        # The remote refusing the push itself (a protected branch, a hook) is no race.
        refused = [ln for ln in output.splitlines() if "[remote rejected]" in ln]
        if refused and not any(reason in refused[0] for reason in RACED):
            raise StateError(f"{repo.where} refused the push: {_redacted(refused[0].strip())}")
        if any(reason in output for reason in RACED):
            return None
        lines = [ln for ln in output.strip().splitlines() if ln.strip()]
        raise StateError(
            f"git push to {repo.where} failed: {_redacted(lines[-1] if lines else 'no output')}"
        )
    failpoints.passed("state: pushed")
    return _pushed(repo, config, commit, folder, changed=True, squashed=squashed)


def _pushed(
    repo: StateRepo, config: ModelConfig, commit: str, folder: str, changed: bool, squashed: bool
) -> StatePush:
    kept = int(repo.text("rev-list", "--count", commit))
    model_bytes = repo.tree_bytes(commit, folder)
    state_bytes = repo.tree_bytes(commit)
    verb = "pushed to" if changed else "unchanged on"
    return StatePush(
        model=config.name,
        remote=_redacted(repo.url),
        branch=repo.branch,
        commit=commit,
        changed=changed,
        attempts=1,
        commits_kept=kept,
        squashed=squashed,
        model_bytes=model_bytes,
        state_bytes=state_bytes,
        message=(
            f"state {verb} {repo.where} at {commit[:10]}: {config.name} "
            f"{model_bytes / 2**20:.1f} MB, whole state {state_bytes / 2**20:.1f} MB, "
            f"{kept} commit(s)" + (" (older history squashed)" if squashed else "")
        ),
    )


def _squashed(repo: StateRepo, tip: str, keep: int) -> str | None:
    """The newest ``keep`` commits of ``tip`` re-parented on one commit holding all before."""
    if keep <= 0:
        return None
    newest = repo.text("rev-list", f"--max-count={keep}", tip).split()
    oldest = newest[-1]
    parent = repo.text(
        "commit-tree",
        f"{oldest}^{{tree}}",
        "-m",
        f"driftgate state up to {repo.text('log', '-1', '--format=%cI', oldest)} "
        f"(older commits squashed; state_history_commits keeps {keep + 1})",
        env=_author(),
    )
    for commit in reversed(newest[:-1]):
        name, email, date, body = repo.text(
            "log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", commit
        ).split("\x00", 3)
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
        parent = repo.text(
            "commit-tree", f"{commit}^{{tree}}", "-p", parent, "-m", body, env={**_author(), **env}
        )
    return parent


def _snapshot(
    settings: Settings,
    config: ModelConfig,
    space: Workspace,
    into: Path,
    period: str,
    step: str,
    target: StateTarget,
    plan: RetentionPlan | None,
) -> dict[str, str]:
    """Copy the model's state into ``into``; returns what retention dropped and why."""
    into.mkdir(parents=True)
    dropped: dict[str, str] = {}
    mlflow_part: dict[str, Any] | None = None
    if space.db is not None and space.db.is_file():
        db = into / STATE_DB
        db.parent.mkdir(parents=True)
        # The backup API copies a consistent database even if a writer left a journal behind.
        with closing(sqlite3.connect(space.db)) as source, closing(sqlite3.connect(db)) as copy:
            source.backup(copy)
        dropped = _copy_artifacts(space.artifacts, into / "mlflow" / "artifacts", plan)
        import mlflow

        mlflow_part = {
            "db": STATE_DB,
            "sha256": _sha256(db),
            "artifact_root": str(space.artifact_root),
            "mlflow_version": mlflow.__version__,
        }
    _copy_tree(space.outputs, into / "outputs", lambda rel: False)
    stale = _stale_data(settings, config, space)
    _copy_tree(space.data, into / "data", lambda rel: rel in stale)
    manifest = {
        "schema": STATE_SCHEMA,
        "model": config.name,
        "period": period,
        "step": step,
        "run": target.run_label,
        "run_url": target.run_url,
        "pushed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mlflow": mlflow_part,
        "excluded": list(EXCLUDED),
        "dropped": dict(sorted(dropped.items())),
    }
    (into / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dropped


def _copy_artifacts(source: Path, into: Path, plan: RetentionPlan | None) -> dict[str, str]:
    """Copy the experiment's artifact folders the retention plan keeps."""
    dropped: dict[str, str] = {}
    into.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return dropped

    def skipped(rel: str) -> bool:
        parts = rel.split("/")
        if plan is None:
            return False
        if parts[0] == "models" and len(parts) > 1:
            if not plan.keeps_model(parts[1]) and parts[1] in plan.dropped:
                dropped[parts[1]] = plan.dropped[parts[1]]
                return True
            return False
        if not plan.keeps_run(parts[0]) and parts[0] in plan.dropped:
            dropped[parts[0]] = plan.dropped[parts[0]]
            return True
        return False

    _copy_tree(source, into, skipped)
    return dropped


def _copy_tree(source: Path, into: Path, skip: Any) -> None:
    into.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if skip(rel) or any(fnmatch.fnmatch(path.name, pattern) for pattern in EXCLUDED):
            continue
        if path.is_file() and not path.is_symlink():
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _stale_data(settings: Settings, config: ModelConfig, space: Workspace) -> set[str]:
    """Batches and label files under data/<model>/ older than any window still needs."""
    periods = (
        sorted(p.name for p in space.outputs.iterdir() if is_month(p.name))
        if (space.outputs.is_dir())
        else []
    )
    if not periods:
        return set()
    newest = periods[-1]
    horizon = config.training_window_months + config.label_delay_months
    stale: set[str] = set()
    for name in periods:
        summary = read_json_if_exists(space.outputs / name / SUMMARY_FILE)
        source = settings.path(str(summary.get("source", "")))
        if months_between(name, newest) <= horizon or not summary.get("source"):
            continue
        try:
            stale.add(source.resolve().relative_to(space.data.resolve()).as_posix())
        except ValueError:
            continue
    inbox = space.data / "labels"  # steps.labels.label_inbox: <period>.<ext> files
    for file in inbox.glob("*.*") if inbox.is_dir() else []:
        labelled = file.name.split(".")[0]
        if is_month(labelled) and months_between(labelled, newest) > horizon:
            stale.add(f"labels/{file.name}")
    return stale


# -- checks and restore -------------------------------------------------------------------------
def _check_marker(repo: StateRepo, tip: str) -> None:
    raw = repo.read(tip, MARKER)
    if raw is None:
        raise StateError(
            f"{repo.where} is not a Driftgate state branch (no {MARKER} at its root: unrelated "
            "history); refusing to read or write it. Set PIPELINE_STATE_BRANCH to another name"
        )
    try:
        marker = json.loads(raw)
    except json.JSONDecodeError:
        raise StateError(f"{MARKER} on {repo.where} is not valid JSON: the branch is corrupt")
    _check_schema(marker, MARKER)


def _check_schema(document: dict[str, Any], name: str) -> None:
    schema = document.get("schema")
    if not isinstance(schema, int) or schema > STATE_SCHEMA:
        raise StateError(
            f"{name} was written by a newer Driftgate (state schema {schema}; this version "
            f"reads up to {STATE_SCHEMA}): upgrade Driftgate before using this state"
        )


def _read_manifest(repo: StateRepo, tip: str, folder: str) -> dict[str, Any] | None:
    raw = repo.read(tip, f"{folder}/{MANIFEST}")
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError:
        raise StateError(f"{folder}/{MANIFEST} on the state branch is not valid JSON: corrupt")
    if not isinstance(manifest, dict):
        raise StateError(f"{folder}/{MANIFEST} on the state branch is not a JSON object: corrupt")
    return manifest


def _check_db(db: Path, expected: str, name: str) -> None:
    hint = "nothing was restored; fix the branch or start anew with `pipeline state pull --fresh`"
    if not db.is_file():
        raise StateError(f"{name} is missing from the state branch: {hint}")
    if _sha256(db) != expected:
        raise StateError(f"{name} on the state branch is corrupt (checksum mismatch): {hint}")
    try:
        with closing(sqlite3.connect(db)) as conn:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StateError(f"{name} on the state branch is not a readable SQLite store: {exc}")
    if verdict != "ok":
        raise StateError(f"{name} on the state branch fails SQLite's check ({verdict}): {hint}")


def _relocate(db: Path, old_root: str, new_root: Path) -> None:
    """Point the store's absolute artifact locations at this checkout's artifact root."""
    if not old_root or Path(old_root) == new_root:
        return
    pairs = [(Path(old_root).as_uri(), new_root.as_uri()), (old_root, str(new_root))]
    with closing(sqlite3.connect(db)) as conn, conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            for column in columns:
                kind = str(column[2]).upper()
                if not any(word in kind for word in ("CHAR", "TEXT", "CLOB")):
                    continue
                for old, new in pairs:
                    conn.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                        f'WHERE instr("{column[1]}", ?) > 0',
                        (old, new, old),
                    )


def _refuse_other_models(db: Path, model: str) -> None:
    """One model per store: restoring or saving a store shared with others would clobber them."""
    if not db.is_file():
        return
    try:
        with closing(sqlite3.connect(db)) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM registered_models")]
    except sqlite3.DatabaseError:
        return  # not an MLflow store yet
    others = sorted(n for n in names if n != model)
    if others:
        raise StateError(
            f"{db} also holds model(s) {', '.join(others)}: the state keeps one model per store; "
            "name a store per model (MLFLOW_TRACKING_URI=sqlite:///mlruns-{model}.db)"
        )


def _swap_in(staged: list[tuple[Path, Path]]) -> list[str]:
    """Move every staged part into place only once all of them are ready."""
    moved: list[str] = []
    ready: list[tuple[Path, Path]] = []
    for source, target in staged:
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = target.with_name(target.name + ".driftgate-new")
        _remove(incoming)
        if source.is_dir():
            shutil.copytree(source, incoming)
        elif source.is_file():
            shutil.copyfile(source, incoming)
        else:
            incoming.mkdir()
        ready.append((incoming, target))
    for incoming, target in ready:
        old = target.with_name(target.name + ".driftgate-old")
        _remove(old)
        if target.exists():
            target.rename(old)
        incoming.rename(target)
        _remove(old)
        for suffix in ("-wal", "-shm", "-journal"):
            _remove(target.with_name(target.name + suffix))
        moved.append(str(target))
    return moved


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# -- helpers ------------------------------------------------------------------------------------
def _origin_url(project_root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(project_root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise StateError("git is not installed: the state branch needs it") from None
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        raise StateError(
            "no state remote: set PIPELINE_STATE_REMOTE to a git URL (the checkout has no origin)"
        )
    return url


def _redacted(text: str) -> str:
    """Credentials in a URL (https://user:token@host) never reach a message."""
    import re

    return re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)


def _author() -> dict[str, str]:
    name, email = AUTHOR
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
