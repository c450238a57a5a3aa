"""A local stand-in for GitHub's REST API: the endpoints Driftgate calls, with GitHub's shapes.

It keeps state (labels, issues, pull requests, comments, branches, files, workflow runs),
paginates every list with ``Link`` headers, sends the rate-limit headers, and fails the way
GitHub does: told to fail the next matching requests (``fail``), or at random (``chaos``, seeded)
with a 502 that applied nothing, a 502 after the write was applied, 429 or a secondary-limit 403
with ``Retry-After``, an exhausted primary limit with its reset time; a stale sha gets a 409.
Response bodies follow ``shared/reference/github/README.md``; URLs point back at this server,
because PyGithub follows the ``url`` fields it is given.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

OWNER, REPO = "acme", "driftgate"
FULL_NAME = f"{OWNER}/{REPO}"
TOKEN = "ghp_test_token_never_printed"


@dataclass
class Failure:
    method: str
    path_pattern: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    applied: bool = False  # the request takes effect, then the answer is the error


# What GitHub answers when it fails: (status, message, headers, applied).
FAULTS: dict[str, tuple[int, str, dict[str, str], bool]] = {
    "502": (502, "Server Error", {}, False),
    "502-applied": (502, "Server Error", {}, True),
    "429": (429, "You have exceeded a secondary rate limit", {"Retry-After": "1"}, False),
    "403-secondary": (
        403,
        "You have exceeded a secondary rate limit. Please wait a few minutes.",
        {"Retry-After": "2"},
        False,
    ),
    "403-primary": (
        403,
        "API rate limit exceeded for installation ID 1.",
        {"X-RateLimit-Remaining": "0"},  # X-RateLimit-Reset: 2 s on, added when it is sent
        False,
    ),
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    applied: bool = False  # answered with an error after it took effect


class FakeGitHub:
    """State plus the server; ``url`` is the API base URL to give PyGithub."""

    def __init__(self) -> None:
        self.labels: dict[str, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}  # pull requests too: a PR is an issue
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.branches: dict[str, str] = {"main": self._sha("initial")}
        self.files: dict[tuple[str, str], str] = {}  # (branch, path) -> text
        self.failures: list[Failure] = []
        # Workflows the repository has (file -> id, dispatch inputs) and the dispatches received.
        self.workflows: dict[str, tuple[int, set[str]]] = {
            "monthly.yml": (161335, {"model", "simulate_drift", "force_retrain", "dry_run"}),
            "promote.yml": (161336, set()),
        }
        self.dispatches: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        # GitHub's OpenAPI description holds every exchange (tests/github_contract.py): what it
        # does not allow, and the operations used.
        self.contract = True
        self.violations: list[str] = []
        self.operations: set[str] = set()
        self.chaos_rate = 0.0
        self.chaos_random: Any = None
        self.injected: dict[str, int] = {}
        self.last_applied = False
        self.next_number = 1
        self.next_id = 1000
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for serve_forever's next poll: the default 0.5 s made stopping the
        # fake half a second of every test that uses it.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- test controls -----------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; fail if an exchange broke GitHub's published contract."""
        self.server.shutdown()
        self.server.server_close()
        import os

        used = os.environ.get("DRIFTGATE_CONTRACT_OPERATIONS")  # the operations used, listed
        if used and self.operations:
            with open(used, "a", encoding="utf-8") as stream:
                stream.write("\n".join(sorted(self.operations)) + "\n")
        if self.contract and self.violations:
            log = os.environ.get("DRIFTGATE_CONTRACT_LOG")  # every violation, for a fix-up
            if log:
                with open(log, "a", encoding="utf-8") as stream:
                    stream.write("\n".join(self.violations) + "\n")
            shown = "\n".join(sorted(set(self.violations))[:12])
            raise AssertionError(
                f"{len(self.violations)} exchanges with the fake GitHub break GitHub's "
                f"published contract (tests/github_contract.py):\n{shown}"
            )

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "Server Error",
        applied: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the regex with ``status``.

        ``applied``: the request takes effect first (a write that landed, its answer lost).
        """
        self.failures.append(
            Failure(method, path_pattern, status, times, headers or {}, message, applied)
        )

    def chaos(self, rate: float, seed: int) -> None:
        """Fail about ``rate`` of all requests from now on, each with a fault of ``FAULTS``."""
        import random

        self.chaos_rate, self.chaos_random = rate, random.Random(seed)

    def writes(self, method: str, pattern: str) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == method and re.fullmatch(pattern, r.path) and r.status < 400
        ]

    def drift_issues(self) -> list[dict[str, Any]]:
        return [
            i
            for i in self.issues.values()
            if "pull_request" not in i and any(lb["name"] == "drift-report" for lb in i["labels"])
        ]

    def pulls(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if "pull_request" in i]

    def seed_issues(self, count: int, label: str = "drift-report") -> None:
        """Older issues, so that finding the right one needs more than one page."""
        self._label(label)
        for n in range(count):
            self._new_issue(f"Old report {n}", f"nothing to see {n}", [label], None)

    def merge(self, number: int) -> dict[str, Any]:
        """Merge a PR: its branch's files land on its base, as GitHub would."""
        pr = self.issues[number]
        head, base = pr["head"]["ref"], pr["base"]["ref"]
        for (branch, path), text in list(self.files.items()):
            if branch == head:
                self.files[(base, path)] = text
        sha = self._sha(f"merge {number}")
        self.branches[base] = sha
        pr.update(
            state="closed",
            merged=True,
            merged_at=_now(),
            merge_commit_sha=sha,
            closed_at=_now(),
        )
        return pr

    def event(self, number: int, action: str = "closed") -> dict[str, Any]:
        """The ``pull_request`` event payload a workflow finds at ``$GITHUB_EVENT_PATH``."""
        pr = self.issues[number]
        event = {
            "action": action,
            "number": number,
            "pull_request": {
                key: pr[key]
                for key in (
                    "number",
                    "merged",
                    "merged_at",
                    "merge_commit_sha",
                    "labels",
                    "base",
                    "head",
                    "html_url",
                    "title",
                    "body",
                    "user",
                    "state",
                )
            },
            "repository": {"full_name": FULL_NAME, "default_branch": "main"},
            "sender": {"login": "reviewer"},
        }
        if not self.contract:
            return event
        from github_contract import complete, event_schema

        # The rest of what GitHub sends (the full PR, repository and sender), in its shape.
        completed: dict[str, Any] = complete(
            copy.deepcopy(event), event_schema(f"pull-request-{action}")
        )
        return completed

    # -- state helpers -------------------------------------------------------------------------

    @staticmethod
    def _sha(text: str) -> str:
        return hashlib.sha1(f"{text}{time.monotonic_ns()}".encode()).hexdigest()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _label(self, name: str, color: str = "ededed", description: str = "") -> dict[str, Any]:
        label = {
            "id": self._id(),
            "name": name,
            "color": color,
            "description": description,
            "default": False,
            "url": f"{self.url}/repos/{FULL_NAME}/labels/{name}",
        }
        self.labels[name] = label
        return label

    def _new_issue(
        self, title: str, body: str | None, labels: list[str], pull: dict[str, Any] | None
    ) -> dict[str, Any]:
        number = self.next_number
        self.next_number += 1
        kind = "pull" if pull else "issues"
        issue: dict[str, Any] = {
            "id": self._id(),
            "node_id": f"I_{number}",
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "locked": False,
            "labels": [self.labels.get(n) or self._label(n) for n in labels],
            "assignees": [],
            "user": {"login": "driftgate-bot", "id": 1, "type": "Bot"},
            "comments": 0,
            "html_url": f"https://github.com/{FULL_NAME}/{kind}/{number}",
            "url": f"{self.url}/repos/{FULL_NAME}/issues/{number}",
            "repository_url": f"{self.url}/repos/{FULL_NAME}",
            "comments_url": f"{self.url}/repos/{FULL_NAME}/issues/{number}/comments",
            "labels_url": f"{self.url}/repos/{FULL_NAME}/issues/{number}/labels{{/name}}",
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
        }
        if pull:
            issue["pull_request"] = {"url": f"{self.url}/repos/{FULL_NAME}/pulls/{number}"}
            issue.update(pull)
        self.issues[number] = issue
        self.comments[number] = []
        return issue

    def _pull_view(self, issue: dict[str, Any]) -> dict[str, Any]:
        view = dict(issue)
        view.pop("pull_request", None)
        view["url"] = f"{self.url}/repos/{FULL_NAME}/pulls/{issue['number']}"
        view["issue_url"] = issue["url"]
        return view

    # -- HTTP ------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes: without this, Nagle's algorithm and
                # the client's delayed ACK hold each answer for ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _serve(self, method: str) -> None:
                parsed = urlparse(self.path)
                path = unquote(parsed.path)
                query = parse_qs(parsed.query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.last_applied = False
                    status, payload, headers = fake._route(
                        method, path, query, body, self.headers.get("Authorization", "")
                    )
                    fake.requests.append(
                        Request(method, path, query, body, status, fake.last_applied)
                    )
                if fake.contract and payload is not None:
                    from github_contract import answer_schema, complete

                    payload = complete(copy.deepcopy(payload), answer_schema(method, path, status))
                data = b"" if payload is None else json.dumps(payload).encode()
                if fake.contract:
                    from github_contract import check_exchange, operation

                    found = operation(method, path)
                    problems = check_exchange(method, path, parsed.query, raw, status, data)
                    with fake.lock:
                        if found is not None:
                            fake.operations.add(found.operation_id)
                        fake.violations.extend(problems)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                headers.setdefault("X-RateLimit-Limit", "5000")
                headers.setdefault("X-RateLimit-Used", str(len(fake.requests)))
                headers.setdefault("X-RateLimit-Resource", "core")
                headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 3600))
                headers.setdefault("X-RateLimit-Remaining", str(5000 - len(fake.requests)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str
    ) -> tuple[int, Any, dict[str, str]]:
        fault: Failure | None = None
        for failure in self.failures:
            if failure.times > 0 and failure.method == method:
                if re.fullmatch(failure.path_pattern, path):
                    failure.times -= 1
                    fault = failure
                    break
        if fault is None and self.chaos_rate and self.chaos_random.random() < self.chaos_rate:
            kind = self.chaos_random.choice(sorted(FAULTS))
            self.injected[kind] = self.injected.get(kind, 0) + 1
            status, message, headers, applied = FAULTS[kind]
            fault = Failure(method, path, status, 1, dict(headers), message, applied)
        if fault is None:
            return self._answer(method, path, query, body, auth)
        if fault.applied:
            self.last_applied = self._answer(method, path, query, body, auth)[0] < 400
        headers = dict(fault.headers)
        if headers.get("X-RateLimit-Remaining") == "0":
            headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 2))
        return fault.status, _error(fault.status, fault.message), headers

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str
    ) -> tuple[int, Any, dict[str, str]]:
        if auth.split()[-1:] != [TOKEN]:
            return 401, _error(401, "Bad credentials"), {}
        repo = f"/repos/{FULL_NAME}"
        if not path.startswith(repo) and not path.startswith("/search/"):
            return 404, _error(404, "Not Found"), {}
        rest = path[len(repo) :]
        one = lambda kind: re.fullmatch(kind, rest)  # noqa: E731

        if method == "GET" and rest == "":
            return 200, self._repo(), {}
        if m := one(r"/labels/(.+)"):
            name = m.group(1)
            if method == "GET":
                if name in self.labels:
                    return 200, self.labels[name], {}
                return 404, _error(404, "Not Found"), {}
        if method == "POST" and rest == "/labels":
            if body["name"] in self.labels:
                return 422, _error(422, "Validation Failed", "already_exists"), {}
            label = self._label(body["name"], body.get("color", "ededed"), body.get("description"))
            return 201, label, {}
        if method == "GET" and rest == "/issues":
            return self._list(self._issues_matching(query), query, path)
        if method == "POST" and rest == "/issues":
            issue = self._new_issue(body["title"], body.get("body"), body.get("labels", []), None)
            return 201, issue, {}
        if m := one(r"/issues/(\d+)"):
            issue = self.issues.get(int(m.group(1)))
            if issue is None:
                return 404, _error(404, "Not Found"), {}
            if method == "PATCH":
                self._edit(issue, body)
            return 200, issue, {}
        if m := one(r"/issues/(\d+)/comments"):
            number = int(m.group(1))
            if number not in self.issues:
                return 404, _error(404, "Not Found"), {}
            if method == "POST":
                comment_id = self._id()
                comment = {
                    "id": comment_id,
                    "body": body["body"],
                    "user": {"login": "driftgate-bot"},
                    "created_at": _now(),
                    "updated_at": _now(),
                    "html_url": f"{self.issues[number]['html_url']}#issuecomment-{comment_id}",
                    "url": f"{self.url}{repo}/issues/comments/{comment_id}",
                }
                self.comments[number].append(comment)
                self.issues[number]["comments"] += 1
                return 201, comment, {}
            return self._list(self.comments[number], query, path)
        if m := one(r"/issues/comments/(\d+)"):
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(m.group(1)):
                        if method == "PATCH":
                            comment["body"] = body["body"]
                            comment["updated_at"] = _now()
                        return 200, comment, {}
            return 404, _error(404, "Not Found"), {}
        if m := one(r"/issues/(\d+)/labels"):
            issue = self.issues[int(m.group(1))]
            if method == "POST":
                names = body["labels"] if isinstance(body, dict) else body
                for name in names:
                    if all(lb["name"] != name for lb in issue["labels"]):
                        issue["labels"].append(self.labels.get(name) or self._label(name))
            return 200, issue["labels"], {}
        if m := one(r"/git/ref/heads/(.+)"):
            branch = m.group(1)
            if branch not in self.branches:
                return 404, _error(404, "Not Found"), {}
            return 200, self._ref(branch), {}
        if method == "POST" and rest == "/git/refs":
            branch = body["ref"].removeprefix("refs/heads/")
            if branch in self.branches:
                return 422, _error(422, "Reference already exists"), {}
            self.branches[branch] = body["sha"]
            for (source, file_path), text in list(self.files.items()):
                if self.branches.get(source) == body["sha"] and source != branch:
                    self.files[(branch, file_path)] = text
            return 201, self._ref(branch), {}
        if m := one(r"/contents/(.+)"):
            return self._contents(method, m.group(1), query, body)
        if method == "GET" and rest == "/pulls":
            return self._list(
                [self._pull_view(p) for p in self._pulls_matching(query)], query, path
            )
        if method == "POST" and rest == "/pulls":
            head, base = body["head"].split(":")[-1], body["base"]
            if head not in self.branches:
                return 422, _error(422, "Validation Failed", "invalid", "head"), {}
            if any(
                p["head"]["ref"] == head and p["base"]["ref"] == base and p["state"] == "open"
                for p in self.pulls()
            ):
                return 422, _error(422, "A pull request already exists"), {}
            pull = {
                "head": {"ref": head, "sha": self.branches[head], "label": f"{OWNER}:{head}"},
                "base": {"ref": base, "sha": self.branches[base], "label": f"{OWNER}:{base}"},
                "merged": False,
                "merged_at": None,
                "merge_commit_sha": None,
                "draft": bool(body.get("draft", False)),
            }
            issue = self._new_issue(body["title"], body.get("body"), [], pull)
            return 201, self._pull_view(issue), {}
        if m := one(r"/actions/workflows/([^/]+)/runs"):
            runs = [
                run
                for run in reversed(self.dispatches)
                if m.group(1) in (run["workflow"], str(self.workflows[run["workflow"]][0]))
                and (not query.get("branch") or run["ref"] == query["branch"][0])
            ]
            status, page, headers = self._list(
                [self._run(self.dispatches.index(run), run) for run in runs], query, path
            )
            return status, {"total_count": len(runs), "workflow_runs": page}, headers
        if m := one(r"/actions/runs/(\d+)"):
            number = int(m.group(1)) - 9000
            if not 0 <= number < len(self.dispatches):
                return 404, _error(404, "Not Found"), {}
            return 200, self._run(number, self.dispatches[number]), {}
        if m := one(r"/actions/workflows/([^/]+)(/dispatches)?"):
            found = [
                (name, wid, inputs)
                for name, (wid, inputs) in self.workflows.items()
                if m.group(1) in (name, str(wid))
            ]
            if not found:
                return 404, _error(404, "Not Found"), {}
            name, wid, inputs = found[0]
            if m.group(2) and method == "POST":
                if body.get("ref") not in self.branches:
                    return 422, _error(422, f"No ref found for: {body.get('ref')}"), {}
                unexpected = sorted(set(body.get("inputs") or {}) - inputs)
                if unexpected:
                    return 422, _error(422, f"Unexpected inputs provided: {unexpected}"), {}
                self.dispatches.append({"workflow": name, "created_at": _now(), **body})
                return 204, None, {}
            return (
                200,
                {
                    "id": wid,
                    "name": name.removesuffix(".yml"),
                    "path": f".github/workflows/{name}",
                    "state": "active",
                    "url": f"{self.url}{repo}/actions/workflows/{wid}",
                    "html_url": f"https://github.com/{FULL_NAME}/actions/workflows/{name}",
                },
                {},
            )
        if m := one(r"/pulls/(\d+)"):
            issue = self.issues.get(int(m.group(1)))
            if issue is None or "pull_request" not in issue:
                return 404, _error(404, "Not Found"), {}
            if method == "PATCH":
                self._edit(issue, body)
            return 200, self._pull_view(issue), {}
        return 404, _error(404, "Not Found"), {}

    def _run(self, number: int, dispatch: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 9000 + number,
            "name": dispatch["workflow"],
            "event": "workflow_dispatch",
            "head_branch": dispatch["ref"],
            "status": "queued",
            "created_at": dispatch["created_at"],
            # What the workflow's run-name renders (monthly.yml: "monthly <model>").
            "display_title": " ".join(
                [
                    dispatch["workflow"].removesuffix(".yml"),
                    *(dispatch.get("inputs") or {}).values(),
                ]
            ),
            "url": f"{self.url}/repos/{FULL_NAME}/actions/runs/{9000 + number}",
        }

    def _repo(self) -> dict[str, Any]:
        return {
            "id": 1,
            "name": REPO,
            "full_name": FULL_NAME,
            "owner": {"login": OWNER, "id": 2, "type": "Organization"},
            "default_branch": "main",
            "private": False,
            "url": f"{self.url}/repos/{FULL_NAME}",
            "html_url": f"https://github.com/{FULL_NAME}",
        }

    def _ref(self, branch: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "url": f"{self.url}/repos/{FULL_NAME}/git/refs/heads/{branch}",
            "object": {"sha": self.branches[branch], "type": "commit", "url": ""},
        }

    def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [self.labels.get(n) or self._label(n) for n in body["labels"]]
        issue["updated_at"] = _now()

    def _issues_matching(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        state = query.get("state", ["open"])[0]
        wanted = [n for n in query.get("labels", [""])[0].split(",") if n]
        found = []
        for issue in sorted(self.issues.values(), key=lambda i: -i["number"]):
            if state != "all" and issue["state"] != state:
                continue
            names = {lb["name"] for lb in issue["labels"]}
            if all(n in names for n in wanted):
                found.append(issue)
        return found

    def _pulls_matching(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        state = query.get("state", ["open"])[0]
        head = query.get("head", [""])[0].split(":")[-1]
        base = query.get("base", [""])[0]
        return [
            p
            for p in sorted(self.pulls(), key=lambda i: -i["number"])
            if (state == "all" or p["state"] == state)
            and (not head or p["head"]["ref"] == head)
            and (not base or p["base"]["ref"] == base)
        ]

    def _contents(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            branch = query.get("ref", ["main"])[0]
            if (branch, path) not in self.files:
                return 404, _error(404, "Not Found"), {}
            return 200, self._file(branch, path), {}
        if method == "PUT":
            branch = body.get("branch", "main")
            if branch not in self.branches:
                return 404, _error(404, "Branch not found"), {}
            existing = self.files.get((branch, path))
            if existing is not None and body.get("sha") != _blob_sha(existing):
                return 409, _error(409, f"{path} does not match {body.get('sha')}"), {}
            if existing is None and body.get("sha"):
                return 422, _error(422, "sha given for a file that does not exist"), {}
            self.files[(branch, path)] = base64.b64decode(body["content"]).decode()
            self.branches[branch] = self._sha(body["message"])
            result = {
                "content": self._file(branch, path),
                "commit": {"sha": self.branches[branch], "message": body["message"]},
            }
            return (200 if existing is not None else 201), result, {}
        return 405, _error(405, "Method Not Allowed"), {}

    def _file(self, branch: str, path: str) -> dict[str, Any]:
        text = self.files[(branch, path)]
        return {
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": _blob_sha(text),
            "size": len(text.encode()),
            "encoding": "base64",
            "content": base64.b64encode(text.encode()).decode(),
            "url": f"{self.url}/repos/{FULL_NAME}/contents/{path}?ref={branch}",
            "html_url": f"https://github.com/{FULL_NAME}/blob/{branch}/{path}",
        }

    def _list(
        self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page < last:
            keep = {k: v[0] for k, v in query.items() if k not in ("page", "per_page")}
            base = f"{self.url}{path}?" + "".join(f"{k}={v}&" for k, v in keep.items())
            headers["Link"] = (
                f'<{base}page={page + 1}&per_page={per_page}>; rel="next", '
                f'<{base}page={last}&per_page={per_page}>; rel="last"'
            )
        return 200, chunk, headers


def _blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _error(status: int, message: str, code: str | None = None, field: str | None = None) -> Any:
    body: dict[str, Any] = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }
    if code:
        body["errors"] = [{"resource": "Issue", "field": field or "name", "code": code}]
    return body


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
