"""`pipeline dispatch`: start a workflow once per configured model (what schedule.yml runs)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pipeline.config import GitHubTarget, Settings
from pipeline.edges.github import GitHub


@dataclass
class Dispatch:
    model: str
    workflow: str
    ref: str
    dispatched: bool


def dispatch_step(
    settings: Settings,
    workflow: str,
    ref: str | None = None,
    target: GitHubTarget | None = None,
    dry_run: bool = False,
) -> list[Dispatch]:
    """Start ``workflow`` once per configured model: the schedule that covers every model.

    A model added to pyproject.toml is run the next month with no workflow change.
    """
    target = target or GitHubTarget.from_env()
    names = sorted(settings.models)
    if dry_run:
        for name in names:
            print(
                f"would dispatch {workflow} on {ref or 'the default branch'} for {name}",
                file=sys.stderr,
            )
        return [Dispatch(name, workflow, ref or "", False) for name in names]
    github = GitHub(target)
    branch = ref or github.default_branch
    dispatched = []
    for name in names:
        github.dispatch_workflow(workflow, branch, {"model": name})
        dispatched.append(Dispatch(name, workflow, branch, True))
    return dispatched
