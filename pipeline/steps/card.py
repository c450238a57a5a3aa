"""`pipeline card`: the model card's generated sections, rewritten from MLflow."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHAMPION, Registry
from pipeline.errors import GateError
from pipeline.reporting.cards import (
    GENERATED,
    card_path,
    gather_card_facts,
    new_card,
    read_card,
    refresh_card,
    render_card,
    section,
)
from pipeline.results import staged_outputs


@dataclass
class CardUpdate:
    model: str
    path: str
    version: int
    changed: bool
    sections: list[str]


def card_step(settings: Settings, config: ModelConfig, version: int | None = None) -> CardUpdate:
    """Regenerate the card's generated sections from MLflow; hand-written text is not touched.

    The sections describe ``version``, else the champion the card names, else the registry's.
    """
    directory = settings.path(settings.model_cards_dir)
    path = card_path(directory, config.name)
    card = (
        read_card(directory, config.name)
        if path.exists()
        else new_card(config.name, config.description, settings.templates_folder())
    )
    registry = Registry(settings, config)
    if version is None:
        version = card.champion.version
    if version is None:
        champion = registry.by_alias(CHAMPION)
        if champion is None:
            raise GateError(
                f"{path} names no champion and '{config.name}' has none in MLflow: "
                "train a model first, or pass --model-version N"
            )
        version = champion.version
    facts = gather_card_facts(registry, config, version)
    updated = refresh_card(card, facts, settings.templates_folder())
    text = render_card(updated)
    changed = not path.exists() or path.read_text(encoding="utf-8") != text
    if changed:
        with staged_outputs(path.parent) as outputs:
            outputs.write_text(path.name, text)
    names = [name for name in GENERATED if section(card.body, name) != section(updated.body, name)]
    return CardUpdate(config.name, str(path), version, changed, names)
