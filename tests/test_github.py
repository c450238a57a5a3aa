"""GitHub through PyGithub against a local fake: idempotent issues, retries, limits, alerts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import files_in, point_at_fake_github, run_cli
from fake_github import FULL_NAME, TOKEN, FakeGitHub

from pipeline.config import GitHubTarget
from pipeline.edges.alerts import send_alert
from pipeline.edges.github import DRIFT_LABEL, GitHub, GitHubError
from pipeline.errors import ConfigError

MARKER = "<!-- driftgate:drift-report model=attrition period=2026-03 -->"


@pytest.fixture
def gh(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    point_at_fake_github(monkeypatch, fake.url, TOKEN)
    yield fake
    fake.stop()


def _client() -> GitHub:
    return GitHub(GitHubTarget.from_env())


def _publish(client: GitHub, body: str = "report") -> Any:
    return client.upsert_issue(
        "Drift report: attrition 2026-03",
        f"{body}\n{MARKER}",
        [DRIFT_LABEL, "no-drift", "attrition"],
        MARKER,
        DRIFT_LABEL,
    )


def test_a_rerun_updates_the_issue_and_creates_missing_labels(gh: FakeGitHub) -> None:
    first = _publish(_client(), "first")
    second = _publish(_client(), "second")

    assert (first.action, second.action) == ("created", "updated")
    assert first.number == second.number and len(gh.drift_issues()) == 1
    issue = gh.issues[first.number]
    assert issue["body"].startswith("second")
    assert {lb["name"] for lb in issue["labels"]} == {DRIFT_LABEL, "no-drift", "attrition"}
    assert set(gh.labels) == {DRIFT_LABEL, "no-drift", "attrition"}
    # Each label was looked up (404) before it was created, once.
    assert len(gh.writes("POST", r"/repos/acme/driftgate/labels")) == 3


@pytest.mark.slow
def test_the_earlier_issue_is_found_beyond_the_first_page(gh: FakeGitHub) -> None:
    first = _publish(_client(), "first")
    gh.seed_issues(230)  # newer issues push the report to page 3 of 100

    second = _publish(_client(), "second")

    assert second.number == first.number and second.action == "updated"
    pages = [r.query.get("page", ["1"])[0] for r in gh.requests if r.path.endswith("/issues")]
    assert "3" in pages
    assert len(gh.drift_issues()) == 231


def test_server_errors_are_retried_without_duplicates(gh: FakeGitHub) -> None:
    gh.fail("POST", r"/repos/acme/driftgate/issues", 502, times=2, message="Bad Gateway")
    gh.fail("GET", r"/repos/acme/driftgate", 503, times=1)

    item = _publish(_client())

    assert item.action == "created" and len(gh.drift_issues()) == 1
    failed = [r for r in gh.requests if r.status >= 500]
    assert len(failed) == 3


def test_rate_limits_wait_for_retry_after(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_GITHUB_WAIT_SCALE", "1")  # the waits as GitHub asks them
    gh.fail("POST", r"/repos/acme/driftgate/issues", 429, headers={"Retry-After": "1"})
    gh.fail(
        "GET",
        r"/repos/acme/driftgate/issues",
        403,
        headers={"Retry-After": "1"},
        message="You have exceeded a secondary rate limit. Please wait a few minutes.",
    )
    import pipeline.edges.github as github_module

    class RecordedSleeps:
        """``time`` as github.py sees it, its waits recorded, not slept (2 s of the fast
        subset). Not ``time.sleep`` itself: that reaches every thread of the worker, and any
        thread sleeping in a loop would fill the list. With that patch a CI worker was killed
        for memory (20.9 GB) in this test on 2026-12-03."""

        def __init__(self) -> None:
            self.waits: list[float] = []

        def sleep(self, seconds: float) -> None:
            self.waits.append(seconds)

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    recorded = RecordedSleeps()
    monkeypatch.setattr(github_module, "time", recorded)
    waits = recorded.waits

    item = _publish(_client())

    assert item.action == "created" and len(gh.drift_issues()) == 1
    assert waits == [1.0, 1.0]  # both waits were honoured, as GitHub asked them


def test_giving_up_is_one_line_without_the_token(gh: FakeGitHub) -> None:
    gh.fail("POST", r"/repos/acme/driftgate/issues", 503, times=100, message="Unavailable")

    with pytest.raises(GitHubError) as error:
        _publish(_client())

    message = str(error.value)
    assert message.startswith(f"GitHub: could not open an issue in {FULL_NAME}:")
    assert "\n" not in message and TOKEN not in message
    assert gh.drift_issues() == []


def test_a_retry_after_beyond_the_bound_gives_up_at_once(gh: FakeGitHub) -> None:
    gh.fail("POST", r"/repos/acme/driftgate/issues", 429, headers={"Retry-After": "3600"})
    started = time.monotonic()

    with pytest.raises(GitHubError, match="asked to wait 3600 s"):
        _publish(_client())

    assert time.monotonic() - started < 30


def test_a_bad_token_is_named_not_printed(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong_secret")
    with pytest.raises(GitHubError) as error:
        _publish(_client())
    assert "401 Bad credentials" in str(error.value)
    assert "ghp_wrong_secret" not in str(error.value)


def test_missing_token_is_an_error_before_any_work(
    gh: FakeGitHub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.delenv("GH_TOKEN", raising=False)

    result = run_cli("run", "--period", "2026-03")

    assert result.code == ConfigError.exit_code
    assert result.stderr.strip().splitlines()[-1].startswith("error: GITHUB_TOKEN is not set")
    assert files_in(project / "outputs") == [] and files_in(project / "data") == []
    assert gh.requests == []


def test_target_reads_the_workflow_environment() -> None:
    target = GitHubTarget.from_env(
        {
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "7",
            "GITHUB_SERVER_URL": "https://ghe.example.com/",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        }
    )
    assert target.run_url == "https://ghe.example.com/o/r/actions/runs/7"
    assert target.api_url == "https://ghe.example.com/api/v3"
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        target.require()
    with pytest.raises(ConfigError, match="PIPELINE_GITHUB_RETRIES='many' is not a number"):
        GitHubTarget.from_env({"PIPELINE_GITHUB_RETRIES": "many"})


class _Webhook:
    def __init__(self, status: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-part"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()


def test_alerts_reach_slack_and_discord_shaped_webhooks() -> None:
    hook = _Webhook(204)
    assert send_alert("Driftgate attrition 2026-03: drift", hook.url)
    assert hook.bodies == [
        {
            "text": "Driftgate attrition 2026-03: drift",
            "content": "Driftgate attrition 2026-03: drift",
        }
    ]
    assert not send_alert("ignored", "")
    hook.server.shutdown()


def test_an_alert_that_fails_is_logged_without_the_url(caplog: pytest.LogCaptureFixture) -> None:
    hook = _Webhook(500)
    assert not send_alert("x", hook.url)
    assert "HTTP 500" in caplog.text and "secret-part" not in caplog.text
    hook.server.shutdown()


def test_the_schedule_starts_one_monthly_run_per_configured_model(gh: FakeGitHub) -> None:
    result = run_cli("dispatch")
    assert result.code == 0, result.stderr
    assert [(d["workflow"], d["ref"], d["inputs"]) for d in gh.dispatches] == [
        ("monthly.yml", "main", {"model": "attrition"}),
        ("monthly.yml", "main", {"model": "machine_failure"}),
        ("monthly.yml", "main", {"model": "sms_spam"}),
    ]
    missing = run_cli("dispatch", "--workflow", "nightly.yml")
    assert missing.code != 0
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("error: GitHub: could not dispatch nightly.yml on main")
    assert "404" in line or "Not Found" in line


# -- writes whose answer was lost, and the failures seen in the field ---------------------------
ISSUE = r"/repos/acme/driftgate/issues/\d+"


def test_a_patch_answered_502_is_sent_again(gh: FakeGitHub) -> None:
    first = _publish(_client(), "first")
    gh.fail("PATCH", ISSUE, 502, times=2)  # nothing applied, twice

    second = _publish(_client(), "second")

    assert second.number == first.number and second.action == "updated"
    assert gh.issues[first.number]["body"].startswith("second")


def test_a_patch_rate_limited_with_retry_after_waits_and_lands(gh: FakeGitHub) -> None:
    first = _publish(_client(), "first")
    gh.fail(
        "PATCH",
        ISSUE,
        429,
        headers={"Retry-After": "1"},
        message="You have exceeded a secondary rate limit",
    )
    gh.fail("PATCH", ISSUE, 403, headers={"Retry-After": "1"}, message="secondary rate limit")

    _publish(_client(), "second")

    assert gh.issues[first.number]["body"].startswith("second")
    assert [r.status for r in gh.requests if r.method == "PATCH"] == [429, 403, 200]


def test_a_new_issue_that_landed_before_its_502_is_not_opened_twice(gh: FakeGitHub) -> None:
    gh.fail("POST", r"/repos/acme/driftgate/issues", 502, applied=True)

    item = _publish(_client())

    assert item.action == "created" and len(gh.drift_issues()) == 1


def test_a_file_written_before_its_502_is_read_back_not_rewritten(gh: FakeGitHub) -> None:
    client = _client()
    client.ensure_branch("promote/attrition-v2", "main")
    client.write_file("model_cards/attrition.md", "old card\n", "promote/attrition-v2", "one")
    gh.fail("PUT", r"/repos/acme/driftgate/contents/.+", 502, applied=True)

    assert client.write_file(
        "model_cards/attrition.md", "new card\n", "promote/attrition-v2", "two"
    )

    assert gh.files[("promote/attrition-v2", "model_cards/attrition.md")] == "new card\n"
    puts = [r for r in gh.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [201, 502]  # read back: no second commit, no 409


def test_a_stale_sha_409_is_read_again_and_written(gh: FakeGitHub) -> None:
    client = _client()
    client.ensure_branch("b", "main")
    client.write_file("x.md", "one\n", "b", "one")
    gh.fail("PUT", r"/repos/acme/driftgate/contents/.+", 409, message="sha does not match")

    assert client.write_file("x.md", "two\n", "b", "two")
    assert gh.files[("b", "x.md")] == "two\n"


def test_comments_labels_refs_pulls_and_dispatches_are_never_doubled(gh: FakeGitHub) -> None:
    client = _client()
    issue = _publish(client)
    for method, pattern in (
        ("POST", r"/repos/acme/driftgate/issues/\d+/comments"),
        ("POST", r"/repos/acme/driftgate/labels"),
        ("POST", r"/repos/acme/driftgate/git/refs"),
        ("POST", r"/repos/acme/driftgate/pulls"),
        ("POST", r"/repos/acme/driftgate/actions/workflows/.+/dispatches"),
        ("PATCH", r"/repos/acme/driftgate/issues/comments/\d+"),
    ):
        gh.fail(method, pattern, 502, applied=True)
    client.comment(issue.number, "a comment")
    client.ensure_labels(["brand-new"])
    client.ensure_branch("promote/attrition-v9", "main")
    client.write_file("model_cards/attrition.md", "card\n", "promote/attrition-v9", "card")
    pull = client.upsert_pull("promote/attrition-v9", "main", "Promote v9", "body", ["x"])
    marker = "<!-- outcome -->"
    client.upsert_comment(pull.number, marker, f"first {marker}")
    client.upsert_comment(pull.number, marker, f"second {marker}")
    client.dispatch_workflow("monthly.yml", "main", {"model": "attrition"})

    assert [c["body"] for c in gh.comments[issue.number]] == ["a comment"]
    assert list(gh.labels).count("brand-new") == 1
    assert len(gh.pulls()) == 1 and pull.action == "created"
    assert [c["body"] for c in gh.comments[pull.number]] == [f"second {marker}"]
    assert len(gh.dispatches) == 1
    assert sum(r.status == 502 for r in gh.requests) == 6


def test_a_merged_promotion_pr_is_never_reopened_or_doubled(gh: FakeGitHub) -> None:
    client = _client()
    client.ensure_branch("promote/attrition-v2", "main")
    client.write_file("model_cards/attrition.md", "card\n", "promote/attrition-v2", "card")
    first = client.upsert_pull("promote/attrition-v2", "main", "Promote v2", "body", ["x"])
    gh.merge(first.number)

    again = client.upsert_pull("promote/attrition-v2", "main", "Promote v2", "body", ["x"])

    assert (again.number, again.action) == (first.number, "merged") and len(gh.pulls()) == 1


def test_an_exhausted_primary_limit_waits_for_its_reset_or_says_when(
    gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = "API rate limit exceeded for installation ID 1."
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 2)}
    gh.fail("POST", r"/repos/acme/driftgate/issues", 403, headers=reset, message=limit)
    assert _publish(_client()).action == "created"

    far = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}
    gh.fail("PATCH", ISSUE, 403, headers=far, message=limit)
    with pytest.raises(GitHubError, match="asked to wait 36.. s, more than"):
        _publish(_client(), "again")


def test_every_list_call_pages(gh: FakeGitHub) -> None:
    client = _client()
    issue = _publish(client)
    for n in range(120):
        gh.comments[issue.number].append({"id": n, "body": f"old {n}", "html_url": "u"})
    client.comment(issue.number, "old 119")  # already there, on page 2: not doubled
    assert len(gh.comments[issue.number]) == 121  # (a comment is text: it was added once)
    pages = {r.query.get("page", ["1"])[0] for r in gh.requests if r.path.endswith("/comments")}
    assert pages == {"1"}  # comment() posts; read-back only after a lost answer
    marker = "old 119"
    client.upsert_comment(issue.number, marker, "old 119")
    pages = {r.query.get("page", ["1"])[0] for r in gh.requests if r.path.endswith("/comments")}
    assert "2" in pages and len(gh.comments[issue.number]) == 121
