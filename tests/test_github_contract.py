"""GitHub's published contract holds the fake GitHub and what Driftgate sends it.

Every exchange with the fake in every test is checked (``FakeGitHub.stop`` fails a test whose
exchanges break it); these tests show the check can fail, and check the events the promote
workflow reads against GitHub's webhook schemas.
"""

from __future__ import annotations

import json

import pytest
from fake_github import FULL_NAME, FakeGitHub
from github_contract import answer_schema, check_event, check_exchange, complete, operation

ISSUES = f"/repos/{FULL_NAME}/issues"


def _pull(fake: FakeGitHub) -> int:
    """A promotion PR in the fake, as its pulls endpoint opens one."""
    fake.branches["promote/attrition-v2"] = fake.branches["main"]
    pull = {
        side: {"ref": ref, "sha": fake.branches[ref], "label": f"acme:{ref}"}
        for side, ref in (("head", "promote/attrition-v2"), ("base", "main"))
    }
    pull.update(merged=False, merged_at=None, merge_commit_sha=None, draft=False)
    return int(fake._new_issue("Promote attrition v2", "body", [], pull)["number"])


def test_a_request_with_a_misspelt_field_breaks_the_contract() -> None:
    good = check_exchange("POST", ISSUES, "", b'{"title": "Drift report"}', 201, b"{}")
    assert not [p for p in good if p.startswith("request")]
    bad = check_exchange("POST", ISSUES, "", b'{"titel": "Drift report"}', 201, b"{}")
    assert any(p.startswith("request issues/create") and "'title' is a required" in p for p in bad)


def test_an_answer_missing_a_required_field_breaks_the_contract() -> None:
    answer = complete({"number": 7, "title": "x"}, answer_schema("GET", f"{ISSUES}/7", 200))
    assert check_exchange("GET", f"{ISSUES}/7", "", b"", 200, json.dumps(answer).encode()) == []
    del answer["node_id"]
    broken = check_exchange("GET", f"{ISSUES}/7", "", b"", 200, json.dumps(answer).encode())
    assert broken and "'node_id' is a required property" in broken[0]


def test_an_operation_github_does_not_have_is_named() -> None:
    assert operation("GET", f"/repos/{FULL_NAME}/git/ref/heads/promote/attrition-v2") is not None
    [problem] = check_exchange("POST", f"/repos/{FULL_NAME}/issues/7/close", "", b"", 200, b"")
    assert "no such operation" in problem


def test_the_merged_pull_request_event_matches_githubs_webhook_schema() -> None:
    fake = FakeGitHub()
    try:
        number = _pull(fake)
        fake.merge(number)
        event = fake.event(number)
        assert check_event("pull-request-closed", event) == []
        assert event["pull_request"]["merged"] is True
        event["pull_request"]["merged"] = "yes"  # what GitHub never sends
        assert any("merged" in problem for problem in check_event("pull-request-closed", event))
    finally:
        fake.server.server_close()


@pytest.mark.parametrize("action", ["opened", "labeled", "closed"])
def test_every_pull_request_event_the_fake_sends_matches_its_schema(action: str) -> None:
    fake = FakeGitHub()
    try:
        assert check_event(f"pull-request-{action}", fake.event(_pull(fake), action)) == []
    finally:
        fake.server.server_close()
