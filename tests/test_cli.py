import subprocess
import sys

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
