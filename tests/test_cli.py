import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli


def test_cli_start_up_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, pipeline.cli; heavy = [m for m in ('pandas', 'mlflow', 'evidently', "
        "'sklearn') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0
    for command in (
        "data",
        "train",
        "predict",
        "drift",
        "retrain",
        "report",
        "promote",
        "rollback",
        "run",
        "sync",
        "card",
        "history",
    ):
        assert command in out.stdout


def test_unknown_model_is_one_line(project: object) -> None:
    result = run_cli("rollback", "--model", "churn")
    assert result.code != 0
    assert result.stderr.strip() == (
        "error: unknown model 'churn' (configured models: attrition, machine_failure, sms_spam)"
    )


def test_only_training_commands_import_joblib_and_read_pipeline_jobs() -> None:
    """joblib takes a quarter second to import: a command that trains nothing never pays it,
    and a bad PIPELINE_JOBS is one line for the commands that use it."""
    code = (
        "import sys; from pipeline.cli import main; code = main({args}); "
        "print(code, 'joblib' in sys.modules)"
    )
    env = {**os.environ, "PIPELINE_JOBS": "none"}

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code.format(args=args)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
        )

    quiet = run(["rollback", "--model", "churn"])
    assert quiet.stdout.split() == ["2", "False"], quiet.stderr
    training = run(["train", "--data", "absent.csv"])
    assert training.stdout.split()[0] != "0"
    assert training.stderr.strip().splitlines()[-1] == (
        "error: PIPELINE_JOBS='none' is not a number of processes (or -1: all)"
    )


@pytest.mark.parametrize("before", [True, False])
def test_model_is_taken_before_the_command_or_after_it(project: Path, before: bool) -> None:
    where = ["--model", "sms_spam"]
    command = ["data", "generate", "--rows", "3", "--out", str(project / "texts.csv")]
    done = run_cli(*(where + command if before else command + where))
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["model"] == "sms_spam"
    assert (project / "texts.csv").read_text().startswith("text,label")


@pytest.mark.parametrize(("pipeline_jobs", "search_jobs"), [(None, 2), ("1", 1), ("-1", -1)])
def test_walkthrough_model_processes_search_with_pipeline_jobs(
    project: Path, monkeypatch: pytest.MonkeyPatch, pipeline_jobs: str | None, search_jobs: int
) -> None:
    """Side by side, each model's process is spawned and inherits no parallel_config: the
    walkthrough hands it PIPELINE_JOBS itself, and by default as many as the processes."""
    import pipeline.walkthrough

    handed: list[dict[str, object]] = []

    def walkthrough(*args: object, **kwargs: object) -> list[object]:
        handed.append({"jobs": args[4], **kwargs})
        return []

    monkeypatch.setattr(pipeline.walkthrough, "run_walkthrough", walkthrough)
    if pipeline_jobs is None:
        monkeypatch.delenv("PIPELINE_JOBS", raising=False)
    else:
        monkeypatch.setenv("PIPELINE_JOBS", pipeline_jobs)
    assert run_cli("walkthrough", "--jobs", "2").code == 0
    assert handed == [{"jobs": 2, "search_jobs": search_jobs}]
