"""What README and docs/ tell people to type exists: every `pipeline <command>` they give is a
command of `pipeline --help`, and every page they link to is in the repository."""

from __future__ import annotations

import re

from conftest import REPO

from pipeline.cli import build_parser

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _commands() -> set[str]:
    parser = build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    return set(commands.choices)  # type: ignore[arg-type]


def test_every_pipeline_command_the_manual_gives_exists() -> None:
    known = _commands()
    given: dict[str, str] = {}
    for page in PAGES:
        for match in re.finditer(r"\bpipeline ([a-z][a-z-]+)", page.read_text(encoding="utf-8")):
            given.setdefault(match.group(1), page.name)
    unknown = {word: page for word, page in given.items() if word not in known}
    assert not unknown, f"commands the manual gives that `pipeline --help` lacks: {unknown}"
    assert {"run", "drift", "promote", "walkthrough", "dashboard"} <= set(given)


def test_every_local_link_of_the_manual_resolves() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_readme_is_a_quickstart_that_links_every_reference_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250, "README is the quickstart: the reference is in docs/"
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, f"README does not link docs/{page.name}"
    for picture in re.findall(r"!\[[^]]*\]\(([^)]+)\)", readme):
        assert (REPO / picture).is_file(), f"README shows {picture}, which is not in the repo"
