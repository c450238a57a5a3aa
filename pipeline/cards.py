"""Model cards: ``model_cards/<model>.md``, the desired deployment state of a model in Git.

The YAML front matter names the champion (version, run id, metrics, when, which PR); `sync`
makes the registry match it and a merged promotion PR changes it. The body mixes hand-written
sections with generated ones between ``<!-- driftgate:begin NAME -->`` and
``<!-- driftgate:end NAME -->``; only the generated ones are ever rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, first_line

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
PROMOTION_HISTORY = "promotion-history"
_HISTORY_HEADER = "| version | date | PR | why |\n| ---: | --- | --- | --- |"


@dataclass(frozen=True)
class Champion:
    version: int | None = None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    promoted_at: str | None = None
    pr: int | None = None


@dataclass(frozen=True)
class Card:
    model: str
    champion: Champion
    body: str
    extra: dict[str, Any] = field(default_factory=dict)  # other front-matter keys, kept as is


def card_path(directory: Path, model: str) -> Path:
    return directory / f"{model}.md"


def parse_card(text: str, source: str) -> Card:
    import yaml

    match = _FRONT.match(text)
    if not match:
        raise ConfigError(f"{source} has no YAML front matter (a '---' block at the top)")
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{source}: front matter is not valid YAML ({first_line(error)})"
        ) from None
    if not isinstance(front, dict) or "model" not in front:
        raise ConfigError(f"{source}: front matter must be a mapping with a 'model' key")
    raw = front.pop("champion", None) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'champion' must be a mapping")
    try:
        champion = Champion(
            version=None if raw.get("version") is None else int(raw["version"]),
            run_id=raw.get("run_id"),
            metrics={str(k): float(v) for k, v in (raw.get("metrics") or {}).items()},
            promoted_at=None if raw.get("promoted_at") is None else str(raw["promoted_at"]),
            pr=None if raw.get("pr") is None else int(raw["pr"]),
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: champion fields are malformed ({error})") from None
    model = str(front.pop("model"))
    return Card(model=model, champion=champion, body=text[match.end() :], extra=front)


def render_card(card: Card) -> str:
    import yaml

    champion = card.champion
    front: dict[str, Any] = {
        "model": card.model,
        "champion": {
            "version": champion.version,
            "run_id": champion.run_id,
            "metrics": {k: round(v, 4) for k, v in champion.metrics.items()},
            "promoted_at": champion.promoted_at,
            "pr": champion.pr,
        },
        **card.extra,
    }
    dumped = yaml.safe_dump(front, sort_keys=False, default_flow_style=False).strip()
    return f"---\n{dumped}\n---\n{card.body}"


def read_card(directory: Path, model: str) -> Card:
    path = card_path(directory, model)
    if not path.exists():
        raise ConfigError(f"model card {path} does not exist (create it or run `pipeline card`)")
    return parse_card(path.read_text(encoding="utf-8"), str(path))


def section(body: str, name: str) -> str | None:
    begin, end = _markers(name)
    start = body.find(begin)
    stop = body.find(end)
    if start < 0 or stop < start:
        return None
    return body[start + len(begin) : stop].strip("\n")


def replace_section(body: str, name: str, content: str) -> str:
    """Rewrite one generated section; everything outside its markers stays byte-identical."""
    begin, end = _markers(name)
    start = body.find(begin)
    stop = body.find(end)
    block = f"{begin}\n{content}\n{end}"
    if start < 0 or stop < start:
        return body.rstrip("\n") + f"\n\n{block}\n"
    return body[:start] + block + body[stop + len(end) :]


def with_champion(
    card: Card,
    version: int,
    run_id: str,
    metrics: dict[str, float],
    date: str,
    why: str,
    pr: int | None = None,
) -> Card:
    """The card naming a new champion, with one promotion history row for it (kept unique)."""
    history = section(card.body, PROMOTION_HISTORY)
    rows = [
        line
        for line in (history or "").splitlines()
        if line.startswith("|") and not line.startswith(("| version", "| ---"))
    ]
    rows = [r for r in rows if not r.startswith(f"| {version} |")]
    why_cell = why.replace("|", "/").replace("\n", " ")
    rows.append(f"| {version} | {date} | {f'#{pr}' if pr else 'this PR'} | {why_cell} |")
    body = replace_section(card.body, PROMOTION_HISTORY, "\n".join([_HISTORY_HEADER, *rows]))
    champion = Champion(version, run_id, dict(metrics), date, pr)
    return replace(card, champion=champion, body=body)


def new_card(model: str, description: str) -> Card:
    """A first card: hand-written sections to fill in, and an empty promotion history."""
    body = (
        f"\n# Model card: {model}\n\n{description}\n\n"
        "## Intended use\n\nDescribe who uses the scores, for what decision, and what they must "
        "not be used for.\n\n"
        "## Known limitations\n\nDescribe the populations, periods and inputs the model was not "
        "validated on.\n\n"
        "## Promotion history\n\n"
    )
    body = replace_section(body, PROMOTION_HISTORY, _HISTORY_HEADER)
    return Card(model=model, champion=Champion(), body=body)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- driftgate:begin {name} -->", f"<!-- driftgate:end {name} -->"
