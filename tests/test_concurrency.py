"""Two runs of one model at once (two terminals, two runners outside the workflow's concurrency
group): one runs, the other refuses in one line, and nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli, use_empty_store

from pipeline.config import load_settings
from pipeline.cycle import RUN_LOCK
from pipeline.results import exclusive

pytestmark = pytest.mark.slow  # a real run of the cycle in two processes


def _lock(project: Path) -> Path:
    return project / "outputs" / "attrition" / RUN_LOCK


@pytest.fixture
def fresh(project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry of its own: the versions and runs counted are this test's."""
    use_empty_store(project, empty_store, monkeypatch, "two.db")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(project / "two-artifacts"))
    return project


def test_a_run_refuses_while_another_holds_the_model(fresh: Path) -> None:
    project = fresh
    with exclusive(_lock(project), "`pipeline run` of attrition 2026-05"):
        refused = run_cli(
            "run", "--model", "attrition", "--period", "2026-06", "--steps", "predict"
        )
    assert refused.code == 6
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: `pipeline run` of attrition 2026-05 (pid ")
    assert line.endswith("wait for it to end, then run again")
    assert not (project / "outputs" / "attrition" / "2026-06").exists()
    # Released with its holder: the next run goes ahead.
    done = run_cli("run", "--model", "attrition", "--period", "2026-06", "--steps", "predict")
    assert done.code == 0, done.stderr


def test_two_runs_started_together_one_runs_the_other_refuses(fresh: Path) -> None:
    project = fresh
    command = [sys.executable, "-m", "pipeline", "run", "--model", "attrition",
               "--period", "2026-07", "--steps", "predict,drift"]  # fmt: skip
    first = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The second starts once the first holds the model (it trains the first champion, so it
    # holds it for seconds): the moment two runs of a schedule would overlap.
    deadline = time.monotonic() + 120
    while f"pid {first.pid}," not in (
        _lock(project).read_text() if _lock(project).exists() else ""
    ):
        assert first.poll() is None, first.communicate()[1].decode()
        assert time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)
    second = subprocess.run(command, cwd=project, capture_output=True, text=True)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err.decode()
    assert second.returncode == 6, second.stderr
    assert (
        len(second.stderr.strip().splitlines()) == 1
        and "pipeline run` of attrition" in second.stderr
    )

    # Nothing doubled: one version, one predict and one drift run for the period, one summary.
    settings = load_settings()
    from pipeline.edges.registry import Registry

    registry = Registry(settings, settings.model("attrition"))
    assert [v.version for v in registry.versions()] == [1]
    for step in ("predict", "drift"):
        runs = [
            r for r in registry.step_runs(step) if r["tags"].get("driftgate.period") == "2026-07"
        ]
        assert len(runs) == 1, step
    folder = project / "outputs" / "attrition" / "2026-07"
    assert json.loads((folder / "drift.json").read_text())["model_version"] == 1
    assert _lock(project).read_text() == ""  # released, nobody named
    assert os.path.getsize(folder / "predict.json") > 0
