"""What the state keeps of the registry's artifacts (pure; pipeline.monitoring.retention)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pipeline.monitoring.retention import StoredRun, StoredVersion, plan_retention

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def test_named_or_young_versions_keep_their_files_and_old_unnamed_ones_go() -> None:
    versions = [
        StoredVersion(1, "r1", "m-1", days_ago(400), ("previous",)),
        StoredVersion(2, "r2", "m-2", days_ago(300)),  # nothing names it, old: dropped
        StoredVersion(3, "r3", "m-3", days_ago(200)),  # the card names it
        StoredVersion(4, "r4", "m-4", days_ago(10)),  # young
    ]
    runs = [StoredRun(f"r{i}", v.created) for i, v in enumerate(versions, 1)]
    runs += [StoredRun("drift-old", days_ago(120)), StoredRun("drift-new", days_ago(5))]
    plan = plan_retention(versions, runs, card_version=3, now=NOW, max_age_days=90)
    assert plan.keep_runs == {"r1", "r3", "r4", "drift-new"}
    assert plan.keep_models == {"m-1", "m-3", "m-4"}
    assert set(plan.dropped) == {"r2", "m-2", "drift-old"}
    assert "v2: no alias or card names it" in plan.dropped["r2"]


versions_strategy = st.lists(
    st.tuples(st.integers(0, 1000), st.booleans()), min_size=1, max_size=12
).map(
    lambda items: [
        StoredVersion(i + 1, f"r{i + 1}", f"m-{i + 1}", days_ago(age), ("x",) if named else ())
        for i, (age, named) in enumerate(items)
    ]
)


@given(versions_strategy, st.integers(0, 400), st.one_of(st.none(), st.integers(1, 12)))
def test_nothing_named_or_younger_than_the_age_is_ever_dropped(
    versions: list[StoredVersion], max_age: int, card: int | None
) -> None:
    plan = plan_retention(versions, [], card, NOW, max_age)
    for found in versions:
        protected = found.aliases or found.version == card or found.created >= days_ago(max_age)
        assert plan.keeps_run(found.run_id) == bool(protected)
        assert (found.run_id in plan.dropped) != bool(protected)
