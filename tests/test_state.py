"""The durable state between workflow runs: clean clones that share only a bare git remote.

Each "job" is a fresh clone of the repository (as a runner checks it out), which pulls the
model's state, runs one `pipeline` command and pushes, exactly as monthly.yml's jobs do.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SMALL, run_cli

from pipeline.config import StateTarget, load_settings
from pipeline.edges import state as state_edge
from pipeline.edges.state import StateError, StateRepo, pull_state, push_state

BRANCH = "driftgate-state"


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository whose main holds the project's settings and model cards."""
    remote = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = tmp_path / "seed"
    seed.mkdir()
    shutil.copyfile(REPO / "pyproject.toml", seed / "pyproject.toml")
    shutil.copytree(REPO / "model_cards", seed / "model_cards")
    git("init", "--quiet", "--initial-branch=main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "main", cwd=seed)
    git("push", "--quiet", str(remote), "main", cwd=seed)
    return remote


def checkout(origin: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean clone, entered as a job would: its own settings, no shared folder."""
    git("clone", "--quiet", str(origin), str(folder))
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PIPELINE_CONFIG", str(folder / "pyproject.toml"))
    for key in (
        "MLFLOW_TRACKING_URI",
        "PIPELINE_MLFLOW_ARTIFACT_ROOT",
        "PIPELINE_OUTPUT_DIR",
        "PIPELINE_DATA_DIR",
        "PIPELINE_STATE_REMOTE",
        "GITHUB_OUTPUT",
        "GITHUB_RUN_ID",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    return folder


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else None


def gone(folder: Path) -> None:
    """A finished job's runner disappears with its checkout."""
    import os

    os.chdir(folder.parent)
    shutil.rmtree(folder)


def branch_files(origin: Path) -> list[str]:
    return git("--git-dir", str(origin), "ls-tree", "-r", "--name-only", BRANCH).splitlines()


def tip(origin: Path) -> str:
    return git("--git-dir", str(origin), "rev-parse", BRANCH)


@pytest.mark.slow
def test_two_runs_in_clean_clones_share_registry_history_and_decisions(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_STATE_PRUNE_DAYS", "0")  # monitoring runs' files go at once
    # Run 1, a plain month, in one job.
    checkout(origin, tmp_path / "run1", monkeypatch)
    assert "starting empty" in ok("state", "pull")["message"]
    ok("run", "--period", "2026-08", "--dry-run")
    pushed = ok("state", "push", "--period", "2026-08", "--step", "run")
    assert pushed["changed"] and pushed["commits_kept"] == 1
    gone(tmp_path / "run1")  # the runner is gone: only the state branch remains

    # Run 2, a drifted month, one clean clone per job as monthly.yml runs it.
    checkout(origin, tmp_path / "run2-predict", monkeypatch)
    ok("state", "pull")
    ok("sync")
    ok("run", "--period", "2026-09", "--steps", "predict", "--simulate-drift", "--dry-run")
    batch = json.loads(Path("outputs/attrition/2026-09/predict.json").read_text())["source"]
    assert not Path(batch).is_absolute()  # valid in the next job's checkout too
    ok("state", "push", "--period", "2026-09", "--step", "predict")
    gone(tmp_path / "run2-predict")

    checkout(origin, tmp_path / "run2-drift", monkeypatch)
    ok("state", "pull")
    before = ok("history", "--json")
    assert [(v["version"], v["aliases"]) for v in before["versions"]] == [(1, ["champion"])]
    assert [d["period"] for d in before["drift"]] == ["2026-08"]
    assert any(d["subject"] == "2026-08 data" for d in before["decisions"])
    ok("drift", "--current", batch, "--period", "2026-09")
    ok("state", "push", "--period", "2026-09", "--step", "drift")
    gone(tmp_path / "run2-drift")

    checkout(origin, tmp_path / "run2-retrain", monkeypatch)
    ok("state", "pull")
    retrain = ok("retrain", "--current", batch, "--period", "2026-09")
    assert retrain["retrained"] and retrain["challenger_version"] == 2
    assert retrain["champion_version"] == 1
    ok("state", "push", "--period", "2026-09", "--step", "retrain")
    gone(tmp_path / "run2-retrain")

    # A third clone sees both months and every decision.
    checkout(origin, tmp_path / "reader", monkeypatch)
    ok("state", "pull")
    history = ok("history", "--json")
    assert [(v["version"], v["aliases"]) for v in history["versions"]] == [
        (2, ["challenger"]),
        (1, ["champion"]),
    ]
    assert [d["period"] for d in history["drift"]] == ["2026-09", "2026-08"]
    subjects = {d["subject"] for d in history["decisions"]}
    assert {"2026-08 data", "2026-09 data", "v1"} <= subjects
    text = run_cli("history").stdout
    assert "2026-08" in text and "2026-09" in text and "v2" in text
    # Four pushes, one commit each, each naming its period and step.
    subjects_log = git("--git-dir", str(origin), "log", "--format=%s", BRANCH).splitlines()
    assert subjects_log == [
        "attrition 2026-09: retrain (a local run)",
        "attrition 2026-09: drift (a local run)",
        "attrition 2026-09: predict (a local run)",
        "attrition 2026-08: run (a local run)",
    ]
    # Retention: the old drift run's files left the state, its record did not.
    files = branch_files(origin)
    old_drift = history["drift"][1]["run_id"]
    assert not any(old_drift in f for f in files)
    assert any("model.skops" in f for f in files)  # versions named by an alias stay whole
    assert not any(f.endswith(".html") for f in files)


def _outputs_only(folder: Path, monkeypatch: pytest.MonkeyPatch, origin: Path) -> Path:
    """A clone whose registry is elsewhere: its state is outputs/ and data/ only (fast)."""
    checkout(origin, folder, monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/")
    return folder


def _settings(folder: Path) -> Any:
    environ = {**SMALL, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9/"}
    return load_settings(folder / "pyproject.toml", environ)


def _write_output(folder: Path, model: str, name: str, value: Any) -> None:
    path = folder / "outputs" / model / "2026-10" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def test_two_concurrent_pushes_of_different_models_both_land(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _outputs_only(tmp_path / "a", monkeypatch, origin)
    second = _outputs_only(tmp_path / "b", monkeypatch, origin)
    target = StateTarget(str(origin), BRANCH)
    runs = {"attrition": first, "machine_failure": second}
    for model, folder in runs.items():
        settings = _settings(folder)
        pull_state(settings, settings.model(model), target, None)
        _write_output(folder, model, "drift.json", {"model": model})

    # The second push reads the remote, then the first lands before it pushes: its push is
    # rejected as non-fast-forward, and it re-applies on top of the first.
    landed: list[Any] = []
    original_tip = StateRepo.remote_tip
    raced = threading.Event()

    def read_then_race(repo: StateRepo) -> str | None:
        seen = original_tip(repo)
        if repo.folder.is_relative_to(second) and not raced.is_set():
            raced.set()
            settings = _settings(first)
            landed.append(
                push_state(settings, settings.model("attrition"), target, "2026-10", "drift", None)
            )
        return seen

    monkeypatch.setattr(StateRepo, "remote_tip", read_then_race)
    settings = _settings(second)
    late = push_state(settings, settings.model("machine_failure"), target, "2026-10", "drift", None)
    assert raced.is_set() and landed[0].attempts == 1
    assert late.attempts == 2 and late.changed
    files = branch_files(origin)
    assert "models/attrition/outputs/2026-10/drift.json" in files
    assert "models/machine_failure/outputs/2026-10/drift.json" in files
    parent = git("--git-dir", str(origin), "rev-parse", f"{BRANCH}~1")
    assert parent == landed[0].commit  # a fast-forward on top of the other run: no force


def test_pushes_in_threads_all_land(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = {
        m: _outputs_only(tmp_path / m, monkeypatch, origin)
        for m in ("attrition", "machine_failure")
    }
    target = StateTarget(str(origin), BRANCH)
    for model, folder in folders.items():
        settings = _settings(folder)
        pull_state(settings, settings.model(model), target, None)
    errors: list[BaseException] = []

    def run(model: str, folder: Path) -> None:
        settings = _settings(folder)
        try:
            for month in range(3):
                _write_output(folder, model, f"round-{month}.json", month)
                push_state(settings, settings.model(model), target, "2026-10", "drift", None)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in folders.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    files = branch_files(origin)
    for model in folders:
        for month in range(3):
            assert f"models/{model}/outputs/2026-10/round-{month}.json" in files
    assert int(git("--git-dir", str(origin), "rev-list", "--count", BRANCH)) == 6


def test_two_runs_of_one_model_never_overwrite_each_other(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = StateTarget(str(origin), BRANCH)
    folders = [_outputs_only(tmp_path / n, monkeypatch, origin) for n in ("a", "b")]
    for folder in folders:
        settings = _settings(folder)
        pull_state(settings, settings.model("attrition"), target, None)
        _write_output(folder, "attrition", "drift.json", {"from": folder.name})
    settings = _settings(folders[0])
    push_state(settings, settings.model("attrition"), target, "2026-10", "drift", None)
    landed = tip(origin)
    settings = _settings(folders[1])
    with pytest.raises(StateError, match="another run changed the state of 'attrition'"):
        push_state(settings, settings.model("attrition"), target, "2026-10", "drift", None)
    assert tip(origin) == landed


def test_history_is_bounded_by_squashing_the_oldest_commits(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _outputs_only(tmp_path / "a", monkeypatch, origin)
    target = StateTarget(str(origin), BRANCH)
    settings = load_settings(
        folder / "pyproject.toml",
        {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9/", "PIPELINE_STATE_HISTORY_COMMITS": "3"},
    )
    config = settings.model("attrition")
    pull_state(settings, config, target, None)
    for month in range(1, 6):
        _write_output(folder, "attrition", "drift.json", {"month": month})
        pushed = push_state(settings, config, target, f"2026-0{month}", "drift", None)
    assert pushed.squashed and pushed.commits_kept == 3
    log = git("--git-dir", str(origin), "log", "--format=%s", BRANCH).splitlines()
    assert log[:2] == [
        "attrition 2026-05: drift (a local run)",
        "attrition 2026-04: drift (a local run)",
    ]
    assert "older commits squashed" in log[2]
    shown = git(
        "--git-dir", str(origin), "show", f"{BRANCH}:models/attrition/outputs/2026-10/drift.json"
    )
    assert json.loads(shown) == {"month": 5}
    # Pushing the same state again adds no commit (only the manifest would change).
    assert not push_state(settings, config, target, "2026-05", "drift", None).changed


# -- corrupt, unrelated, newer and missing state ------------------------------------------------
@pytest.fixture(scope="session")
def registered_store(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Path:
    """A real MLflow SQLite store holding the registered model and no version yet.

    Made once (from the run's empty store, whose tables are made) and copied.
    """
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("registered") / "mlruns.db"
    shutil.copyfile(empty_store, path)
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).create_registered_model("attrition")
    return path


@pytest.fixture
def pushed_state(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registered_store: Path
) -> Path:
    """The branch after one push of attrition with a SQLite store."""
    folder = checkout(origin, tmp_path / "writer", monkeypatch)
    ok("state", "pull")
    shutil.copyfile(registered_store, folder / "mlruns.db")
    _write_output(folder, "attrition", "drift.json", {"verdict": "no_drift"})
    ok("state", "push", "--period", "2026-10")
    return origin


def tamper(origin: Path, tmp_path: Path, change: Any, orphan: bool = False) -> None:
    """Commit ``change(worktree)`` on the state branch from a separate clone."""
    work = tmp_path / "tamper"
    if orphan:
        git("clone", "--quiet", str(origin), str(work))
    else:
        git("clone", "--quiet", "--branch", BRANCH, str(origin), str(work))
    change(work)
    git("add", "-A", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "x", cwd=work)
    git("push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{BRANCH}", cwd=work)


def _pull_fails(origin: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, match: str) -> None:
    checkout(origin, folder, monkeypatch)
    kept = folder / "outputs" / "attrition" / "mine.json"
    kept.parent.mkdir(parents=True)
    kept.write_text("{}", encoding="utf-8")
    result = run_cli("state", "pull")
    assert result.code == 8, result.stderr
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and match in line, line
    assert not (folder / "mlruns.db").exists() and kept.read_text() == "{}"  # nothing touched


def test_a_truncated_store_is_refused_and_fresh_starts_anew(
    pushed_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def truncate(work: Path) -> None:
        db = work / "models" / "attrition" / "mlflow" / "mlruns.db"
        db.write_bytes(db.read_bytes()[:100])

    tamper(pushed_state, tmp_path, truncate)
    _pull_fails(pushed_state, tmp_path / "reader", monkeypatch, "is corrupt (checksum mismatch)")
    fresh = ok("state", "pull", "--fresh")
    assert fresh["fresh"] and fresh["restored"] == []


def test_an_unrelated_branch_is_neither_read_nor_written(
    pushed_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_folder = checkout(pushed_state, tmp_path / "earlier", monkeypatch)
    ok("state", "pull")
    tamper(pushed_state, tmp_path, lambda work: (work / "notes.txt").write_text("x"), orphan=True)
    unrelated = tip(pushed_state)
    _pull_fails(pushed_state, tmp_path / "reader", monkeypatch, "is not a Driftgate state branch")
    monkeypatch.chdir(before_folder)
    monkeypatch.setenv("PIPELINE_CONFIG", str(before_folder / "pyproject.toml"))
    result = run_cli("state", "push", "--period", "2026-10")
    assert result.code == 8 and "not a Driftgate state branch" in result.stderr
    assert tip(pushed_state) == unrelated


def test_a_state_of_a_newer_schema_is_refused(
    pushed_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def newer(work: Path) -> None:
        (work / "driftgate-state.json").write_text('{"kind": "driftgate-state", "schema": 2}')

    tamper(pushed_state, tmp_path, newer)
    _pull_fails(pushed_state, tmp_path / "reader", monkeypatch, "newer Driftgate (state schema 2")


def test_missing_state_while_the_card_names_a_champion_is_an_error(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = checkout(origin, tmp_path / "job", monkeypatch)
    card = folder / "model_cards" / "attrition.md"
    card.write_text(card.read_text().replace("  version: null", "  version: 3", 1))
    result = run_cli("state", "pull")
    assert result.code == 8
    assert "no state for 'attrition'" in result.stderr and "champion v3" in result.stderr
    assert ok("state", "pull", "--fresh")["fresh"]


def test_push_without_pull_and_a_shared_store_are_refused(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = checkout(origin, tmp_path / "job", monkeypatch)
    result = run_cli("state", "push")
    assert result.code == 8 and "run `pipeline state pull` first" in result.stderr
    with sqlite3.connect(folder / "mlruns.db") as conn:
        conn.execute("CREATE TABLE registered_models (name TEXT)")
        conn.execute("INSERT INTO registered_models VALUES ('attrition'), ('machine_failure')")
    conn.close()
    ok("state", "pull", "--fresh")
    result = run_cli("state", "push")
    assert result.code == 8 and "also holds model(s) machine_failure" in result.stderr
    assert not git("--git-dir", str(origin), "branch", "--list", BRANCH)


def test_status_lists_each_model_without_restoring(
    pushed_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = checkout(pushed_state, tmp_path / "reader", monkeypatch)
    status = ok("state", "status")
    assert status["commits"] == 1 and status["state_bytes"] > 0
    assert status["models"]["attrition"]["period"] == "2026-10"
    assert status["models"]["attrition"]["mlflow"] is True
    assert not (folder / "mlruns.db").exists() and not (folder / "outputs").exists()


def test_the_token_travels_as_a_header_and_never_in_a_message() -> None:
    settings = load_settings(REPO / "pyproject.toml", {})
    target = StateTarget.from_env(
        settings,
        {"GITHUB_REPOSITORY": "acme/fork", "GITHUB_TOKEN": "s3cret", "GITHUB_RUN_ID": "42"},
    )
    assert target.url == "https://github.com/acme/fork.git"
    assert target.auth_header and "s3cret" not in target.auth_header  # base64, in a header
    assert "run 42" in target.run_label
    other = StateTarget.from_env(
        load_settings(REPO / "pyproject.toml", {"PIPELINE_STATE_REMOTE": "https://x.org/s.git"}),
        {"GITHUB_REPOSITORY": "acme/fork", "GITHUB_TOKEN": "s3cret"},
    )
    assert other.url == "https://x.org/s.git" and other.auth_header is None  # not sent elsewhere
    assert state_edge._redacted("https://user:tok@host/x.git") == "https://***@host/x.git"


def test_batches_and_labels_beyond_the_windows_leave_the_state(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _outputs_only(tmp_path / "a", monkeypatch, origin)
    settings = _settings(folder)
    config = settings.model("attrition")  # 12 training months + 3 label months
    target = StateTarget(str(origin), BRANCH)
    pull_state(settings, config, target, None)
    for period in ("2024-06", "2025-10", "2026-10"):
        batch = folder / "data" / "attrition" / f"{period}-none.csv"
        labels = folder / "data" / "attrition" / "labels" / f"{period}.csv"
        labels.parent.mkdir(parents=True, exist_ok=True)
        batch.write_text("x\n1\n")
        labels.write_text("x\n1\n")
        _write_output(folder, "attrition", "unused.json", {})
        summary = folder / "outputs" / "attrition" / period / "predict.json"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"source": f"data/attrition/{period}-none.csv"}))
    push_state(settings, config, target, "2026-10", "predict", None)
    files = branch_files(origin)
    data = sorted(f.removeprefix("models/attrition/data/") for f in files if "/data/" in f)
    assert data == [
        "2025-10-none.csv",
        "2026-10-none.csv",
        "labels/2025-10.csv",
        "labels/2026-10.csv",
    ]
    assert "models/attrition/outputs/2024-06/predict.json" in files  # results stay


def test_pull_all_needs_and_uses_a_store_per_model(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout(origin, tmp_path / "site", monkeypatch)
    shared = run_cli("state", "pull", "--all")
    assert shared.code == 2 and "sqlite:///mlruns-{model}.db" in shared.stderr
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlruns-{model}.db")
    pulled = ok("state", "pull", "--all")
    assert [p["model"] for p in pulled] == ["attrition", "machine_failure", "sms_spam"]
    settings = load_settings()
    assert settings.tracking_uri_for("sms_spam").endswith("/site/mlruns-sms_spam.db")


def test_a_push_the_remote_refuses_is_reported_not_retried(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    folder = _outputs_only(tmp_path / "a", monkeypatch, origin)
    settings = _settings(folder)
    target = StateTarget(str(origin), BRANCH)
    pull_state(settings, settings.model("attrition"), target, None)
    _write_output(folder, "attrition", "drift.json", {})
    with pytest.raises(StateError, match="refused the push: .*pre-receive hook declined"):
        push_state(settings, settings.model("attrition"), target, "2026-10", "drift", None)
