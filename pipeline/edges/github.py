"""GitHub, reached only through PyGithub: the drift issue, the promotion PR, comments, labels.

Every write is idempotent: issues and PRs carry a hidden marker (or a fixed branch) by which a
re-run finds and updates them instead of opening another. Transient failures (5xx, rate limits
with ``Retry-After`` or a reset time) are retried with capped exponential backoff within a
bounded time; what finally fails becomes one ``GitHubError`` line. The token is never printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.config import GitHubTarget
from pipeline.errors import PipelineError, first_line

T = TypeVar("T")

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

    class BoundedRetry(GithubRetry):
        """GitHub's retry rules, but never a wait longer than ``max_wait``.

        A ``Retry-After`` beyond it means "not within this run": give up now with a clear line
        rather than hold the workflow for an hour.
        """

        def get_retry_after(self, response: Any) -> float | None:
            seconds: float | None = super().get_retry_after(response)
            if seconds is not None and seconds > target.max_wait:
                raise GitHubError(
                    f"GitHub asked to wait {seconds:.0f} s (Retry-After), more than "
                    f"PIPELINE_GITHUB_MAX_WAIT={target.max_wait:.0f} s: giving up"
                )
            return seconds

    return BoundedRetry(
        total=target.retries,
        backoff_factor=target.backoff,
        backoff_max=max(target.backoff * 16, 1.0),
        status_forcelist=[429, 500, 502, 503, 504],
        secondary_rate_wait=min(60.0, target.max_wait),
        max_rate_limit_wait=target.max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


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
        try:
            return action()
        except PipelineError:
            raise
        except Exception as error:  # noqa: BLE001 - PyGithub, requests and urllib3 all raise
            raise GitHubError(
                f"GitHub: could not {what} in {self.target.repository}: {_describe(error)}"
            ) from error

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
        self._call(
            f"dispatch {workflow} on {ref} with {inputs}",
            lambda: self.repo.get_workflow(workflow).create_dispatch(ref, inputs, throw=True),
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
                except GithubException as error:
                    if error.status != 404:
                        raise
                    try:
                        self.repo.create_label(name, color, description)
                    except GithubException as again:
                        if again.status != 422:  # created meanwhile: fine
                            raise

            self._call(f"create label '{name}'", ensure)

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
            self._call(
                f"update issue #{existing.number}",
                lambda: existing.edit(title=title, body=body, labels=labels),
            )
            return PublishedItem("issue", existing.number, existing.html_url, "updated")
        created = self._call(
            "open an issue", lambda: self.repo.create_issue(title=title, body=body, labels=labels)
        )
        return PublishedItem("issue", created.number, created.html_url, "created")

    def edit_issue_body(self, number: int, body: str) -> None:
        self._call(f"update issue #{number}", lambda: self.repo.get_issue(number).edit(body=body))

    def comment(self, number: int, body: str) -> str:
        created = self._call(
            f"comment on #{number}", lambda: self.repo.get_issue(number).create_comment(body)
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
            try:
                self.repo.create_git_ref(f"refs/heads/{branch}", sha)
            except GithubException as error:
                if error.status != 422:  # "Reference already exists": a retry that succeeded
                    raise

        self._call(f"create branch {branch} from {base}", ensure)

    def write_file(self, path: str, text: str, branch: str, message: str) -> bool:
        """Commit ``text`` to ``path`` on ``branch``; False when it is already there."""
        from github import GithubException

        def write() -> bool:
            try:
                current = self.repo.get_contents(path, ref=branch)
            except GithubException as error:
                if error.status != 404:
                    raise
                self.repo.create_file(path, message, text, branch=branch)
                return True
            if current.decoded_content.decode("utf-8") == text:
                return False
            self.repo.update_file(path, message, text, current.sha, branch=branch)
            return True

        return self._call(f"commit {path} to {branch}", write)

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
        owner = (self.target.repository or "").split("/")[0]
        self.ensure_labels(labels)

        def upsert() -> PublishedItem:
            found = list(self.repo.get_pulls(state="open", head=f"{owner}:{branch}", base=base))
            if found:
                pull = found[0]
                pull.edit(title=title, body=body)
                action = "updated"
            else:
                pull = self.repo.create_pull(
                    base=base, head=branch, title=title, body=body, draft=draft
                )
                action = "created"
            pull.add_to_labels(*labels)
            return PublishedItem("pull", pull.number, pull.html_url, action)

        return self._call(f"open the PR from {branch}", upsert)

    def edit_pull_body(self, number: int, body: str) -> None:
        self._call(f"update PR #{number}", lambda: self.repo.get_pull(number).edit(body=body))
