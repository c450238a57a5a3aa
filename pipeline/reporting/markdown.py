"""The drift issue and the promotion PR as GitHub shows them, for pages outside GitHub.

A dry run writes its issue and PR as Markdown instead of opening them; the dashboard shows
them as GitHub would render them: CommonMark with GitHub's tables and strikethrough
(markdown-it-py, which comes with rich). GitHub passes a few HTML tags through its sanitizer
(the issue folds its stable features into ``<details>``); here too, and only those: any other
tag (a column named ``<script>``, say) is shown as text, never run.
"""

from __future__ import annotations

import html
import re
from typing import Any

# The tags Driftgate's own texts use, and comments (the hidden marker a re-run finds the issue
# by). Attributes are not allowed: none of the texts needs one.
_ALLOWED_TAG = re.compile(
    r"<!--.*-->|</?(?:details|summary|br|b|i|em|strong|code|sub|sup)\s*/?>", re.S
)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>?", re.S)


def _allowed(raw: str) -> bool:
    return all(_ALLOWED_TAG.fullmatch(tag) for tag in _TAG.findall(raw))


def _escape_unknown_html(tokens: list[Any]) -> None:
    for token in tokens:
        if token.type == "html_inline" and not _allowed(token.content):
            token.type = "text"  # the text renderer escapes it
        elif token.type == "html_block" and not _allowed(token.content):
            token.content = html.escape(token.content)
        if token.children:
            _escape_unknown_html(token.children)


def to_html(markdown: str) -> str:
    """``markdown`` rendered as GitHub renders an issue body (tables, folded sections)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(markdown)
    _escape_unknown_html(tokens)
    rendered: str = parser.renderer.render(tokens, parser.options, {})
    return rendered
