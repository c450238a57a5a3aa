"""Synthetic histories for the backtest: how a year or two of monthly batches may move.

Each scenario is a month-by-month schedule of the configured drifts (``[synthetic.drift]``):

- ``stable``: nothing moves.
- ``gradual``: the covariate drift grows linearly to twice its configured size.
- ``sudden``: covariate and concept drift together from the middle month on.
- ``concept``: P(label | inputs) changes from the middle month on; the inputs do not.
- ``seasonal``: the covariate drift swings back and forth over a 12-month period (harmless:
  the label's dependence on the inputs stays).
- ``prior``: the positive rate doubles from the middle month on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pipeline.config import ModelConfig
from pipeline.errors import ConfigError
from pipeline.model.synthetic import generate

if TYPE_CHECKING:
    import pandas as pd

SCENARIOS = ("stable", "gradual", "sudden", "concept", "seasonal", "prior")


def scenario_month(
    config: ModelConfig, scenario: str, index: int, months: int, rows: int, seed: int
) -> pd.DataFrame:
    """Month ``index`` (0-based) of ``months`` in ``scenario``, labelled, ids unique per month."""
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario '{scenario}' (choose from {', '.join(SCENARIOS)})")
    onset = months // 2
    start = (index + 1) * 10**6
    if scenario == "gradual":
        growth = 2.0 * index / max(months - 1, 1)
        return generate(config, rows, seed, "covariate", start, strength=growth)
    if scenario in ("sudden", "concept"):
        kind = ("mixed" if scenario == "sudden" else "concept") if index >= onset else "none"
        return generate(config, rows, seed, kind, start)
    if scenario == "seasonal":
        swing = 0.5 * math.sin(2 * math.pi * index / 12)
        return generate(config, rows, seed, "covariate", start, strength=swing)
    if scenario == "prior" and index >= onset:
        base = float(config.synthetic.get("positive_rate", 0.2))
        return generate(config, rows, seed, "none", start, positive_rate=min(0.9, 2 * base))
    return generate(config, rows, seed, "none", start)
