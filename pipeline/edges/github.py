"""GitHub, reached only through PyGithub: the drift issue, the promotion PR, comments, labels.

Every write is idempotent: issues and PRs carry a hidden marker (or a fixed branch) by which a
re-run finds and updates them instead of opening another.

Reads (GET) are retried by PyGithub's urllib3 retry on 5xx, 429 and rate-limit 403s. Writes are
retried here, whatever their method, because only here is it known how to tell whether a write
whose answer was lost had landed: a rate-limited write (429, 403 with ``Retry-After`` or a
rate-limit message) did nothing and is sent again after the wait GitHub asks for; a write
answered 5xx, or whose connection dropped, may have landed, so it is first read back (the
issue by its marker, the PR by its branch, the comment by its text or marker, the file by its
content, the label or branch by its name) and sent again only if it did not. Waits are capped
(``PIPELINE_GITHUB_MAX_WAIT``); what finally fails becomes one ``GitHubError`` line. The token
is never printed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from pipeline.config import GitHubTarget
from pipeline.edges import failpoints
from pipeline.errors import PipelineError, first_line

T = TypeVar("T")
log = logging.getLogger("pipeline")

DRIFT_LABEL = "drift-report"
PROMOTION_LABEL = "model-promotion"
FAILURE_LABEL = "pipeline-failure"
LABEL_STYLE: dict[str, tuple[str, str]] = {
    DRIFT_LABEL: ("1d76db", "Monthly drift report from Driftgate"),
    "drift-detected": ("d93f0b", "Driftgate found drift this period"),
    "no-drift": ("0e8a16", "Driftgate found no drift this period"),
    PROMOTION_LABEL: ("5319e7", "Merging this PR promotes the model it names"),
    FAILURE_LABEL: ("b60205", "A Driftgate run failed"),
}
_MODEL_LABEL_STYLE = ("c5def5", "Driftgate model")


class GitHubError(PipelineError):
    """GitHub refused or kept failing; the message names the call and the last answer."""

    exit_code = 6


@dataclass
class PublishedItem:
    """An issue or PR as the pipeline left it."""

    kind: str
    number: int
    url: str
    action: str  # "created" or "updated"


def _retry(target: GitHubTarget) -> Any:
    from github import GithubRetry

    scale = target.wait_scale

    class BoundedRetry(GithubRetry):
        """GitHub's retry rules for reads, but never a wait longer than ``max_wait``.

        A ``Retry-After`` beyond it means "not within this run": give up now with a clear line
        rather than hold the workflow for an hour. Writes are not retried here (see the module).
        """

        def get_retry_after(self, response: Any) -> float | None:
            seconds: float | None = super().get_retry_after(response)
            if seconds is not None and seconds > target.max_wait:
                raise GitHubError(
                    f"GitHub asked to wait {seconds:.0f} s (Retry-After), more than "
                    f"PIPELINE_GITHUB_MAX_WAIT={target.max_wait:.0f} s: giving up"
                )
            return seconds

        def sleep_for_retry(self, response: Any) -> bool:
            seconds = self.get_retry_after(response)
            if seconds:
                time.sleep(seconds * scale)
                return True
            return False

        def _sleep_backoff(self) -> None:
            backoff = self.get_backoff_time()
            if backoff > 0:
                time.sleep(backoff * scale)

    return BoundedRetry(
        total=target.retries,
        backoff_factor=target.backoff,
        backoff_max=max(target.backoff * 16, 1.0),
        status_forcelist=[429, 500, 502, 503, 504],
        # Only reads: a write that failed is retried by GitHub._write, which reads back first.
        allowed_methods=frozenset({"GET", "HEAD"}),
        secondary_rate_wait=min(60.0, target.max_wait),
        max_rate_limit_wait=target.max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


@dataclass(frozen=True)
class Fault:
    """A failed call worth trying again: whether it may have landed, and the wait asked for."""

    may_have_landed: bool
    wait: float  # seconds GitHub asked for (Retry-After, a reset), 0: use the backoff


def classify(
    error: BaseException, now: float | None = None, stale_on_conflict: bool = False
) -> Fault | None:
    """What a failed write means, or None when trying again cannot help (a 4xx, a bad token).

    ``stale_on_conflict``: a 409 means the write named a stale version (a file's sha) and
    becomes worth another look, not a failure.
    """
    import requests
    from github import GithubException, RateLimitExceededException

    if isinstance(error, GithubException):
        headers = {str(k).lower(): str(v) for k, v in (error.headers or {}).items()}
        data = error.data if isinstance(error.data, dict) else {}
        message = str(data.get("message") or "").lower()
        retry_after = _number(headers.get("retry-after"))
        rate_limited = (
            error.status == 429
            or isinstance(error, RateLimitExceededException)
            or (error.status == 403 and (retry_after is not None or "rate limit" in message))
        )
        if rate_limited:
            wait = retry_after or 0.0
            reset = _number(headers.get("x-ratelimit-reset"))
            if not wait and headers.get("x-ratelimit-remaining") == "0" and reset is not None:
                wait = max(reset - (time.time() if now is None else now), 0.0) + 1.0
            return Fault(may_have_landed=False, wait=wait)
        if error.status >= 500 or (stale_on_conflict and error.status == 409):
            return Fault(may_have_landed=True, wait=retry_after or 0.0)
        return None
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return Fault(may_have_landed=True, wait=0.0)
    return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _describe(error: BaseException) -> str:
    """One line for any failure inside PyGithub or below it, without headers or the token."""
    from github import GithubException, RateLimitExceededException

    if isinstance(error, GitHubError):
        return str(error)
    if isinstance(error, RateLimitExceededException):
        return f"rate limit exhausted ({error.status})"
    if isinstance(error, GithubException):
        data = error.data if isinstance(error.data, dict) else {}
        message = str(data.get("message") or error.data or "").splitlines()
        return f"{error.status} {message[0] if message else ''}".strip()
    text = first_line(error)
    if "Max retries exceeded" in text or "too many" in text.lower():
        return "no success after the retries (server errors or rate limits)"
    return text


class GitHub:
    """The handful of GitHub operations Driftgate needs, each safe to repeat."""

    def __init__(self, target: GitHubTarget) -> None:
        target.require()
        from github import Auth, Github

        self.target = target
        self._client = Github(
            auth=Auth.Token(target.token or ""),
            base_url=target.api_url,
            retry=_retry(target),
            per_page=100,
            timeout=30,
            seconds_between_requests=None,
            # GitHub's secondary limit punishes bursts of writes: space them out.
            seconds_between_writes=target.write_interval,
        )
        self._repo: Any = None

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """A read (its retries are PyGithub's), or a write that is safe to send once only."""
        try:
            return action()
        except PipelineError:
            raise
        except Exception as error:  # noqa: BLE001 - PyGithub, requests and urllib3 all raise
            raise GitHubError(
                f"GitHub: could not {what} in {self.target.repository}: {_describe(error)}"
            ) from error

    def _write(
        self,
        what: str,
        write: Callable[[], T],
        landed: Callable[[], T | None] | None = None,
        stale_on_conflict: bool = False,
    ) -> T:
        """Send a write until it succeeds; before re-sending one that may have landed, look.

        ``landed`` reads back whether an earlier attempt took effect and returns its result
        (or None); without it the write is one that may be sent twice (an edit to the same
        content, adding labels already there).
        """
        target = self.target
        for attempt in range(target.retries + 1):
            try:
                done = write()
                failpoints.passed(f"github: {what}")
                return done
            except PipelineError:
                raise
            except Exception as error:  # noqa: BLE001 - PyGithub, requests and urllib3 all raise
                fault = classify(error, stale_on_conflict=stale_on_conflict)
                if fault is None or attempt == target.retries:
                    raise GitHubError(
                        f"GitHub: could not {what} in {target.repository}: {_describe(error)}"
                    ) from error
                wait = fault.wait or min(target.backoff * 2**attempt, target.backoff * 16)
                if wait > target.max_wait:
                    raise GitHubError(
                        f"GitHub: could not {what} in {target.repository}: GitHub asked to "
                        f"wait {wait:.0f} s, more than PIPELINE_GITHUB_MAX_WAIT="
                        f"{target.max_wait:.0f} s ({_describe(error)})"
                    ) from error
                log.info(
                    "GitHub: %s failed (%s); %s in %.1f s",
                    what,
                    _describe(error),
                    "checking whether it landed" if fault.may_have_landed else "again",
                    wait,
                )
                time.sleep(wait * target.wait_scale)
                if fault.may_have_landed and landed is not None:
                    found = self._call(f"check whether '{what}' landed", landed)
                    if found is not None:
                        failpoints.passed(f"github: {what}")
                        return found
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._call(
                "open the repository",
                lambda: self._client.get_repo(self.target.repository or ""),
            )
        return self._repo

    @property
    def default_branch(self) -> str:
        return str(self.repo.default_branch)

    def dispatch_workflow(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        """Start ``workflow`` (its file name) on ``ref`` with ``inputs``, as `gh workflow run`."""
        what = f"dispatch {workflow} on {ref} with {inputs}"
        found = self._call(what, lambda: self.repo.get_workflow(workflow))
        since = datetime.now(timezone.utc).replace(microsecond=0)

        def started() -> bool | None:
            # A dispatch whose answer was lost: a run of it on ref, created since, whose title
            # (the workflow's run-name: "monthly <model>") names every input, is that run.
            # Newest first, so the runs from before this dispatch end the look. (No `created`
            # filter: GitHub's published description types it a date-time, not the ">=" range
            # its prose allows.)
            runs = found.get_runs(event="workflow_dispatch", branch=ref)
            for run in runs:
                if run.created_at is not None and run.created_at < since:
                    break
                words = str(run.display_title or "").split()
                if all(str(value) in words for value in inputs.values()):
                    return True
            return None

        self._write(
            what,
            lambda: found.create_dispatch(ref, inputs, throw=True),
            started,
        )

    # -- labels --------------------------------------------------------------------------------

    def ensure_labels(self, names: list[str]) -> None:
        """Create the labels that are missing (a 404 on lookup), tolerating a racing creator."""
        from github import GithubException

        for name in names:
            color, description = LABEL_STYLE.get(name, _MODEL_LABEL_STYLE)

            def ensure(
                name: str = name, color: str = color, description: str = description
            ) -> None:
                try:
                    self.repo.get_label(name)
                    return
                except GithubException as error:
                    if error.status != 404:
                        raise

                def create() -> bool:
                    try:
                        self.repo.create_label(name, color, description)
                    except GithubException as again:
                        if again.status != 422:  # created meanwhile, or by our lost answer
                            raise
                    return True

                self._write(f"create label '{name}'", create, lambda: self._label_exists(name))

            self._call(f"look up label '{name}'", ensure)

    def _label_exists(self, name: str) -> bool | None:
        from github import GithubException

        try:
            self.repo.get_label(name)
            return True
        except GithubException as error:
            if error.status == 404:
                return None
            raise

    # -- issues --------------------------------------------------------------------------------

    def _issues(self, label: str) -> Iterator[Any]:
        # Listing by label (paginated, 100 a page) rather than the search API, which has its
        # own, lower rate limit and indexes new issues with a delay.
        return iter(self.repo.get_issues(state="all", labels=[label]))

    def find_issue(self, marker: str, label: str) -> Any | None:
        def find() -> Any | None:
            for issue in self._issues(label):
                if issue.pull_request is None and marker in (issue.body or ""):
                    return issue
            return None

        return self._call(f"look up issues labelled '{label}'", find)

    def upsert_issue(
        self, title: str, body: str, labels: list[str], marker: str, search_label: str
    ) -> PublishedItem:
        """Update the issue carrying ``marker``, or open one; labels are created when missing."""
        self.ensure_labels(labels)
        existing = self.find_issue(marker, search_label)
        if existing is not None:
            # An edit to the same content may be sent twice: no read-back needed.
            self._write(
                f"update issue #{existing.number}",
                lambda: existing.edit(title=title, body=body, labels=labels),
            )
            return PublishedItem("issue", existing.number, existing.html_url, "updated")
        created = self._write(
            "open an issue",
            lambda: self.repo.create_issue(title=title, body=body, labels=labels),
            lambda: self.find_issue(marker, search_label),
        )
        return PublishedItem("issue", created.number, created.html_url, "created")

    def edit_issue_body(self, number: int, body: str) -> None:
        self._write(f"update issue #{number}", lambda: self.repo.get_issue(number).edit(body=body))

    def _find_comment(self, number: int, wanted: Callable[[str], bool]) -> Any | None:
        for found in self.repo.get_issue(number).get_comments():
            if wanted(found.body or ""):
                return found
        return None

    def comment(self, number: int, body: str) -> str:
        """Add a comment; a lost answer is resolved by looking for the same text."""
        created = self._write(
            f"comment on #{number}",
            lambda: self.repo.get_issue(number).create_comment(body),
            lambda: self._find_comment(number, lambda text: text == body),
        )
        return str(created.html_url)

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        """The one comment carrying ``marker`` on #number: edited in place, or added once."""
        existing = self._call(
            f"read the comments of #{number}",
            lambda: self._find_comment(number, lambda text: marker in text),
        )
        if existing is not None:
            if (existing.body or "") != body:
                self._write(f"update a comment on #{number}", lambda: existing.edit(body))
            return str(existing.html_url)
        created = self._write(
            f"comment on #{number}",
            lambda: self.repo.get_issue(number).create_comment(body),
            lambda: self._find_comment(number, lambda text: marker in text),
        )
        return str(created.html_url)

    def comments(self, number: int) -> list[str]:
        return self._call(
            f"read the comments of #{number}",
            lambda: [c.body for c in self.repo.get_issue(number).get_comments()],
        )

    # -- files and pull requests ---------------------------------------------------------------

    def read_file(self, path: str, ref: str) -> str | None:
        from github import GithubException

        def read() -> str | None:
            try:
                content = self.repo.get_contents(path, ref=ref)
            except GithubException as error:
                if error.status == 404:
                    return None
                raise
            return str(content.decoded_content.decode("utf-8"))

        return self._call(f"read {path} on {ref}", read)

    def ensure_branch(self, branch: str, base: str) -> None:
        from github import GithubException

        def ensure() -> None:
            try:
                self.repo.get_git_ref(f"heads/{branch}")
                return
            except GithubException as error:
                if error.status != 404:
                    raise
            sha = self.repo.get_git_ref(f"heads/{base}").object.sha

            def create() -> bool:
                try:
                    self.repo.create_git_ref(f"refs/heads/{branch}", sha)
                except GithubException as error:
                    if error.status != 422:  # "Reference already exists": our lost answer
                        raise
                return True

            def exists() -> bool | None:
                try:
                    self.repo.get_git_ref(f"heads/{branch}")
                    return True
                except GithubException as error:
                    if error.status == 404:
                        return None
                    raise

            self._write(f"create branch {branch} from {base}", create, exists)

        self._call(f"create branch {branch} from {base}", ensure)

    def write_file(self, path: str, text: str, branch: str, message: str) -> bool:
        """Commit ``text`` to ``path`` on ``branch``; False when it is already there."""
        from github import GithubException

        def current() -> Any | None:
            try:
                return self.repo.get_contents(path, ref=branch)
            except GithubException as error:
                if error.status == 404:
                    return None
                raise

        def same(found: Any | None) -> bool:
            return found is not None and found.decoded_content.decode("utf-8") == text

        if same(self._call(f"read {path} on {branch}", current)):
            return False

        def write() -> bool:
            # Read at every attempt: the sha an update names is the one there now.
            found = current()
            if same(found):
                return True  # an earlier attempt landed although its answer was lost
            if found is None:
                self.repo.create_file(path, message, text, branch=branch)
            else:
                self.repo.update_file(path, message, text, found.sha, branch=branch)
            return True

        # A 409 (the sha went stale: e.g. our own earlier attempt landed) means "read again".
        return self._write(
            f"commit {path} to {branch}",
            write,
            lambda: True if same(current()) else None,
            stale_on_conflict=True,
        )

    def upsert_pull(
        self,
        branch: str,
        base: str,
        title: str,
        body: str,
        labels: list[str],
        draft: bool = False,
    ) -> PublishedItem:
        """Open the PR from ``branch`` to ``base``, or update the open one; then label it.

        ``draft`` applies when the PR is opened (REST cannot turn an open PR into a draft).
        """
        self.ensure_labels(labels)
        found = self.find_pull(branch, base)
        if found is not None and found.state != "open":
            # One PR per version: a merged or closed one is never reopened or duplicated.
            action = "merged" if found.merged else "closed"
            return PublishedItem("pull", found.number, found.html_url, action)
        if found is not None:
            pull, action = found, "updated"
            self._write(f"update PR #{pull.number}", lambda: pull.edit(title=title, body=body))
        else:

            def create() -> Any:
                from github import GithubException

                try:
                    return self.repo.create_pull(
                        base=base, head=branch, title=title, body=body, draft=draft
                    )
                except GithubException as error:
                    again = self.find_pull(branch, base) if error.status == 422 else None
                    if again is None:  # 422 "already exists": our own lost answer
                        raise
                    return again

            pull, action = (
                self._write(
                    f"open the PR from {branch}", create, lambda: self.find_pull(branch, base)
                ),
                "created",
            )
        self._write(f"label PR #{pull.number}", lambda: self._add_labels(pull, labels))
        return PublishedItem("pull", pull.number, pull.html_url, action)

    @staticmethod
    def _add_labels(pull: Any, labels: list[str]) -> None:
        """Add ``labels`` to a PR as GitHub's description states it: an object with ``labels``.

        PyGithub's ``add_to_labels`` posts a bare JSON array, which GitHub's published OpenAPI
        description does not allow (it mentions it in prose only); editing the issue with the
        labels it has plus these is the documented call, and repeats safely.
        """
        issue = pull.as_issue()
        have = [label.name for label in issue.labels]
        wanted = have + [name for name in labels if name not in have]
        if wanted != have:
            issue.edit(labels=wanted)

    def find_pull(self, branch: str, base: str) -> Any | None:
        """The PR from ``branch`` into ``base`` in any state (the newest), or None."""
        owner = (self.target.repository or "").split("/")[0]

        def find() -> Any | None:
            for pull in self.repo.get_pulls(state="all", head=f"{owner}:{branch}", base=base):
                return pull
            return None

        return self._call(f"look up the PR from {branch}", find)

    def edit_pull_body(self, number: int, body: str) -> None:
        self._write(f"update PR #{number}", lambda: self.repo.get_pull(number).edit(body=body))
