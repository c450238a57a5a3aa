"""A run killed at an external write and run again leaves what a clean run leaves (quick form).

``tests/crash.py`` has the scenario (one checkout: state pull, a drifted month's run, the merge,
promote, state push); ``bench/crash.py`` kills it at every one of its failpoints. Here: one
clean pass, then a kill at each kind of write: a version registered and not yet named, the
champion alias moved and not yet recorded, the outcome comment posted on the merged PR, the
state pushed and not yet noted as this checkout's.

One test with a subtest per kill, not one test per kill: the trials restore the clean pass's
saved world, and as separate tests each pytest-xdist worker that took one built that world
for itself (the clean pass took 74 and 84 s of two workers in one run). A failed kill is still
reported by its name, and the others still run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash import Scenario

pytestmark = pytest.mark.slow  # real runs of the cycle, killed and run again

QUICK = (
    ("run", "registry: training run logged, its version registered"),
    ("promote", "registry: alias champion"),
    ("promote", "github: comment on #2"),
    ("push", "state: pushed"),
)


def test_killed_at_each_kind_of_write_and_run_again_it_ends_as_a_clean_run(
    tmp_path: Path, trained_stores: Path, subtests: pytest.Subtests
) -> None:
    scenario = Scenario(
        tmp_path / "world", trained_stores / "one_version.db", trained_stores / "artifacts"
    )
    try:
        logs = tmp_path / "failpoints"
        logs.mkdir()
        points = scenario.clean(logs)
        end = scenario.end_state()

        # The clean pass itself: every kind of write passed, and the month ended as expected.
        assert {p.command for p in points} == {"run", "promote", "push"}
        assert len(points) >= 30  # the bench kills at each of them
        assert [
            (c, n) for c, n in QUICK if not any(p.command == c and p.name == n for p in points)
        ] == []
        assert end.differences(end) == []
        assert (end.champion, end.previous, end.abandoned) == (2, 1, [])

        for command, name in QUICK:
            with subtests.test(f"killed in {command} at {name}"):
                point = next(p for p in points if p.command == command and p.name == name)
                assert scenario.trial(point) == "killed"
                after = scenario.end_state()
                assert after.differences(end) == []
                if name.startswith("registry: training run logged"):
                    # The killed run's version was registered, never compared: abandoned.
                    assert after.abandoned == [2] and after.champion == 3
    finally:
        scenario.close()
