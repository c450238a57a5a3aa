"""A run killed at an external write and run again leaves what a clean run leaves (quick form).

``tests/crash.py`` has the scenario (one checkout: state pull, a drifted month's run, the merge,
promote, state push); ``bench/crash.py`` kills it at every one of its failpoints. Here: one
clean pass, then a kill at each kind of write: a version registered and not yet named, the
champion alias moved and not yet recorded, the outcome comment posted on the merged PR, the
state pushed and not yet noted as this checkout's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash import EndState, KillPoint, Scenario

pytestmark = pytest.mark.slow  # real runs of the cycle, killed and run again

QUICK = (
    ("run", "registry: training run logged, its version registered"),
    ("promote", "registry: alias champion"),
    ("promote", "github: comment on #2"),
    ("push", "state: pushed"),
)


# Session, not module: a worker that runs another module's test between two of these would
# tear a module fixture down and build it again.
@pytest.fixture(scope="session")
def clean(
    tmp_path_factory: pytest.TempPathFactory, trained_stores: Path
) -> tuple[Scenario, list[KillPoint], EndState]:
    root = tmp_path_factory.mktemp("crash")
    scenario = Scenario(
        root / "world", trained_stores / "one_version.db", trained_stores / "artifacts"
    )
    logs = root / "failpoints"
    logs.mkdir()
    points = scenario.clean(logs)
    end = scenario.end_state()
    yield scenario, points, end
    scenario.close()


def test_the_clean_run_passes_every_kind_of_write(
    clean: tuple[Scenario, list[KillPoint], EndState],
) -> None:
    _, points, end = clean
    assert {p.command for p in points} == {"run", "promote", "push"}
    assert len(points) >= 30  # the bench kills at each of them
    assert [
        (c, n) for c, n in QUICK if not any(p.command == c and p.name == n for p in points)
    ] == []
    assert end.differences(end) == []
    assert (end.champion, end.previous, end.abandoned) == (2, 1, [])


@pytest.mark.parametrize("command,name", QUICK, ids=[f"{c}: {n}" for c, n in QUICK])
def test_killed_there_and_run_again_it_ends_as_a_clean_run(
    clean: tuple[Scenario, list[KillPoint], EndState], command: str, name: str
) -> None:
    scenario, points, end = clean
    point = next(p for p in points if p.command == command and p.name == name)
    assert scenario.trial(point) == "killed"
    after = scenario.end_state()
    assert after.differences(end) == []
    if name.startswith("registry: training run logged"):
        # The killed run's version was registered, never compared: recorded as abandoned.
        assert after.abandoned == [2] and after.champion == 3
