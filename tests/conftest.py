"""Shared fixtures: every test runs against its own output folder and a session-wide MLflow store.

Settings come from the repository's pyproject.toml, shrunk through the same environment
overrides a user has (small batches, one search iteration, two of the three candidates) so
the suite runs in minutes. Tests marked ``slow`` (end to end, or statistical over many months)
are scheduled first so that pytest-xdist's workers finish together; ``-m "not slow"`` is the
fast unit subset.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_github import TOKEN, FakeGitHub
from forkserver import exit_without_teardown

from pipeline.cli import main
from pipeline.config import ModelConfig, Settings, load_settings
from pipeline.edges.registry import Registry
from pipeline.steps.train import train_step

REPO = Path(__file__).resolve().parents[1]
IBM = REPO.parent / "shared" / "data" / "ibm_hr_attrition.csv"

SMALL = {
    "PIPELINE_ATTRITION_TRAINING_ROWS": "1500",
    "PIPELINE_ATTRITION_BATCH_ROWS": "1000",
    "PIPELINE_ATTRITION_SEARCH_ITERATIONS": "1",
    "PIPELINE_ATTRITION_CV_FOLDS": "2",
    # Two candidates, not three: the random forest's fits were a quarter of the suite's CPU
    # spent training (tests/test_registry.py and tests/test_train.py still fit it).
    "PIPELINE_ATTRITION_CANDIDATES": "logistic_regression,hist_gradient_boosting",
    "PIPELINE_MACHINE_FAILURE_TRAINING_ROWS": "3000",
    "PIPELINE_MACHINE_FAILURE_BATCH_ROWS": "1500",
    "PIPELINE_MACHINE_FAILURE_SEARCH_ITERATIONS": "1",
    "PIPELINE_MACHINE_FAILURE_CV_FOLDS": "2",
    "PIPELINE_MACHINE_FAILURE_CANDIDATES": "logistic_regression,hist_gradient_boosting",
    "PIPELINE_SMS_SPAM_TRAINING_ROWS": "1500",
    "PIPELINE_SMS_SPAM_BATCH_ROWS": "1000",
    "PIPELINE_SMS_SPAM_SEARCH_ITERATIONS": "1",
    "PIPELINE_SMS_SPAM_CV_FOLDS": "2",
    # Labels with the batch, as these tests' scenarios assume; tests/test_late_labels.py
    # runs months whose labels arrive later.
    "PIPELINE_ATTRITION_LABEL_DELAY_MONTHS": "0",
    "PIPELINE_MACHINE_FAILURE_LABEL_DELAY_MONTHS": "0",
    # pytest-xdist already runs a test per core: a command's searches run one fit at a time.
    "PIPELINE_JOBS": "1",
}


# The machines' PostgreSQL 15 (trust authentication); each test gets a database of its own.
POSTGRES_ADMIN_URL = os.environ.get(
    "DRIFTGATE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new database on the local PostgreSQL, dropped afterwards.

    Where none answers (a laptop) the test skips with one line; under CI (``CI=true``) a
    missing server fails it instead, so PostgreSQL-backed tests cannot silently stop running.
    """
    import sqlalchemy as sa

    name = f"driftgate_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach it means "no PostgreSQL"
        engine.dispose()
        where = POSTGRES_ADMIN_URL.rsplit("@", 1)[-1]
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        message = f"no PostgreSQL at {where}: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the PostgreSQL-backed tests must run)")
        pytest.skip(message)
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Each core already runs a worker: OpenMP and BLAS threads of their own (2 per process
        # here) only oversubscribe the cores, and libgomp's spinning made tests ~1.5x slower.
        from threadpoolctl import threadpool_limits

        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = "1"  # for the processes tests start, too
        threadpool_limits(1)
        # Exit handlers run last-in, first-out: this one runs after every handler registered
        # later (the tests' libraries', joblib's among them), then skips the interpreter's
        # teardown of the worker's modules and heap, which pytest waited out at the end of every
        # run (1.2 s for a process that imported Evidently, MLflow and scikit-learn; 2.25 s of
        # the fast subset's end). Handlers registered before it (logging's) are skipped: what
        # they would flush, the standard streams, is flushed here.
        atexit.register(exit_without_teardown, 0)


_BEFORE = pytest.StashKey[set[str]]()
# What running the tests may leave in the checkout: caches of Python and the tools.
_CACHES = ("__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".import_linter_cache")
_ENVIRONMENTS = (".venv", ".tools")


def _checkout_files() -> set[str]:
    """Every path git sees in the checkout, ignored ones included, caches left out."""
    import subprocess

    # The environments bootstrap.sh makes in the checkout are left out: git lists their 47,000
    # files one by one, and reading that list twice took 3 s of every run.
    done = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
            "--",
            ".",
            *(f":!{environment}" for environment in _ENVIRONMENTS),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:  # not a git checkout (an unpacked archive): nothing to compare
        return set()
    lines = {line[3:] for line in done.stdout.splitlines()}
    return {path for path in lines if not any(part in _CACHES for part in Path(path).parts)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, not each xdist worker
        session.config.stash[_BEFORE] = _checkout_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests write to temporary folders only: a file the suite left in the checkout fails it."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    left = sorted(_checkout_files() - before)
    if left:
        listed = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        writer = session.config.get_terminal_writer()
        writer.line()
        writer.line(f"error: the tests left files in the checkout: {listed}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _grouped_on_one_worker(request: pytest.FixtureRequest) -> None:
    """A test of a group (Spark's, Evidently's) fails unless xdist kept its group on one worker.

    xdist marks a grouped test by suffixing its node ID with ``@group``; a pytest that no longer
    lets it (9.2, pytest-xdist#1386) spreads the groups over every worker without a word, and
    each worker then starts its own Spark and imports Evidently.
    """
    node = request.node
    if getattr(request.config.option, "loadgroup", False) and node.get_closest_marker(
        "xdist_group"
    ):
        if "@" not in node.nodeid:
            pytest.fail(
                "--dist loadgroup ignored this test's xdist_group mark: pytest and pytest-xdist "
                "disagree on node IDs (pytest-xdist#1386)",
                pytrace=False,
            )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (stable otherwise): the workers then end at about the same time."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its schema made and nothing registered, made once a run.

    MLflow makes a new database's schema by replaying each of its migrations (alembic), 0.8 to
    1.4 s a database here; the session store, the trained stores and any test that needs a
    registry of its own (``use_empty_store``) copy this one instead, which both xdist workers
    share: the tests made nine new stores a run before (measured), now one, besides those a
    test has the pipeline's own commands make.
    """
    import fcntl

    from mlflow.tracking import MlflowClient

    # The run's own folder, which every xdist worker shares (a worker's is one level down).
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    path = shared / "empty_mlruns.db"
    with open(shared / "empty_mlruns.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker makes it, the other waits for it
        if not path.exists():
            staged = shared / "empty_mlruns.partial.db"
            uri = f"sqlite:///{staged}"
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
            staged.rename(path)
    return path


@pytest.fixture(scope="session")
def mlflow_dir(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Path:
    folder = tmp_path_factory.mktemp("mlflow")
    shutil.copyfile(empty_store, folder / "mlruns.db")
    return folder


def _project_environment(monkeypatch: pytest.MonkeyPatch, folder: Path, store: Path) -> None:
    monkeypatch.setenv("PIPELINE_CONFIG", str(REPO / "pyproject.toml"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlruns.db'}")
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(store / "artifacts"))
    monkeypatch.setenv("PIPELINE_OUTPUT_DIR", str(folder / "outputs"))
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(folder / "data"))
    for key in ("GITHUB_OUTPUT", "GITHUB_RUN_ID", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def project(tmp_path: Path, mlflow_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the repository's settings, its own outputs and a shared registry."""
    _project_environment(monkeypatch, tmp_path, mlflow_dir)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def trained_stores(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Path:
    """Registries with trained attrition versions, trained once per session (per xdist worker).

    ``one_version.db``: v1, the champion, as the first ``pipeline train`` leaves it;
    ``two_versions.db``: then v2 from a second ``pipeline train``, not promoted. Tests copy a
    database (``use_trained_store``) instead of training the same models again; the artifacts
    stay here, shared read-only (new runs get new folders).
    """
    folder = tmp_path_factory.mktemp("trained")
    shutil.copyfile(empty_store, folder / "mlruns.db")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _project_environment(monkeypatch, folder, folder)
        settings = load_settings()
        config = settings.model("attrition")
        for name in ("one_version.db", "two_versions.db"):
            train_step(settings, config, None)
            shutil.copyfile(folder / "mlruns.db", folder / name)
    return folder


def use_empty_store(
    project: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch, as_name: str
) -> None:
    """Point the project at a registry of its own, new and empty (a copy of ``empty_store``)."""
    _use_copy_of(empty_store, project / as_name, monkeypatch)


def use_trained_store(
    project: Path, stores: Path, monkeypatch: pytest.MonkeyPatch, name: str, as_name: str
) -> None:
    """Point the project at its own copy of one of ``trained_stores``' registries."""
    _use_copy_of(stores / name, project / as_name, monkeypatch)
    monkeypatch.setenv("PIPELINE_MLFLOW_ARTIFACT_ROOT", str(stores / "artifacts"))


def _use_copy_of(database: Path, copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(database, copy)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{copy}")


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings()


@pytest.fixture
def config(settings: Settings) -> ModelConfig:
    return settings.model("attrition")


def run_cli(*args: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(project: Path) -> Iterator[object]:
    yield run_cli


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder``, temp files included: what a failed step left behind."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def point_at_fake_github(monkeypatch: pytest.MonkeyPatch, api_url: str, token: str) -> None:
    """The environment a workflow gives, aimed at the local fake, with fast retries."""
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/driftgate")
    monkeypatch.setenv("GITHUB_API_URL", api_url)
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("PIPELINE_GITHUB_BACKOFF", "0.01")
    monkeypatch.setenv("PIPELINE_GITHUB_WRITE_INTERVAL", "0")
    monkeypatch.setenv("PIPELINE_GITHUB_MAX_WAIT", "5")
    # Retry-After and reset waits as GitHub sends them, slept at 1/100 of their length.
    monkeypatch.setenv("PIPELINE_GITHUB_WAIT_SCALE", "0.01")
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)


CARD = "model_cards/attrition.md"


@pytest.fixture
def gh(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The local GitHub fake, holding the repository's model cards on main."""
    fake = FakeGitHub().start()
    cards = project / "model_cards"
    cards.mkdir()
    for card in sorted((REPO / "model_cards").glob("*.md")):
        fake.files[("main", f"model_cards/{card.name}")] = card.read_text()
        shutil.copy(card, cards / card.name)
    monkeypatch.setenv("PIPELINE_MODEL_CARDS_DIR", str(cards))
    point_at_fake_github(monkeypatch, fake.url, TOKEN)
    yield fake
    fake.stop()


def merged_event(project: Path, gh: FakeGitHub, number: int, **changes: Any) -> Path:
    """The ``pull_request`` event file the promote workflow receives, with ``changes`` applied."""
    event = gh.event(number)
    event["pull_request"].update(changes)
    path = project / f"event-{number}.json"
    path.write_text(json.dumps(event))
    return path


def checkout_card(project: Path, gh: FakeGitHub, branch: str = "main", card: str = CARD) -> None:
    """What actions/checkout gives the promote workflow: the card as it is on ``branch``."""
    (project / card).write_text(gh.files[(branch, card)])


def alias(name: str, model: str = "attrition") -> int | None:
    settings = load_settings()
    found = Registry(settings, settings.model(model)).by_alias(name)
    return found.version if found else None
