"""The shadow: a kept challenger's evidence, pooled over the months it scored beside the champion.

A challenger that was not better enough on its first comparison is kept as ``challenger`` and
scores every later batch beside the champion (``predict`` writes ``shadow/`` in the period's
folder). Once those months' labels are in, both models are judged on every labelled row they
both scored, pooled across months, with the same paired test and gate as a fresh challenger;
a shadow that earns it is proposed, naming the months it was judged on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig
from pipeline.edges.registry import ModelVersionInfo
from pipeline.errors import DataError
from pipeline.model.labels import LABELS_FILE, id_column, id_keys
from pipeline.model.predict import PREDICTIONS_FILE, SHADOW_DIR, SUMMARY_FILE
from pipeline.monitoring.comparison import paired_difference
from pipeline.monitoring.performance import rounded, score_metrics
from pipeline.monitoring.policy import promotion_decision, version_fairness_gates
from pipeline.results import read_json_if_exists, to_jsonable

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pipeline")


@dataclass
class ShadowEvidence:
    """What ``retrain.json`` records of the shadow (``shadow``)."""

    version: int
    months: list[str]
    rows: int
    decision: str  # "promote" (proposed), "keep" (not yet) or "none" (cannot be compared)
    reasons: list[str]
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)
    paired: dict[str, Any] | None = None

    @property
    def evaluated_on(self) -> str:
        names = ", ".join(self.months)
        return f"the {self.rows} labelled rows of {names} both models scored as the months came"


def scored_by_both(
    config: ModelConfig,
    folder: Path,
    champion: int,
    shadow: int,
    labels: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """A period's labelled rows with both models' scores (``label``, ``champion``,
    ``shadow``), or None when the two versions did not both score it.

    ``labels`` (id and target) default to the period's late labels (``labels.parquet``).
    """
    import pandas as pd

    shadow_dir = folder / SHADOW_DIR
    scored_by = read_json_if_exists(folder / SUMMARY_FILE).get("model_version")
    shadowed_by = read_json_if_exists(shadow_dir / SUMMARY_FILE).get("model_version")
    if scored_by != champion or shadowed_by != shadow:
        return None
    if labels is None:
        if not (folder / LABELS_FILE).exists():
            return None
        labels = pd.read_parquet(folder / LABELS_FILE)
    key = id_column(config)
    truth = pd.DataFrame(
        {
            key: id_keys(labels[key]),
            "label": (labels[config.target] == config.positive_class).astype(int),
        }
    )
    frames = []
    for name, where in (("champion", folder), ("shadow", shadow_dir)):
        scores = pd.read_parquet(where / PREDICTIONS_FILE, columns=[key, "score"])
        frames.append(scores.assign(**{key: id_keys(scores[key])}).rename(columns={"score": name}))
    joined = truth.merge(frames[0], on=key).merge(frames[1], on=key)
    return joined.dropna(subset=["champion", "shadow"])


def judge_shadow(
    config: ModelConfig,
    champion: ModelVersionInfo,
    shadow: ModelVersionInfo,
    months: list[tuple[str, pd.DataFrame]],
) -> ShadowEvidence:
    """The shadow against the champion on every month both scored (``scored_by_both``)."""
    import numpy as np

    names = [name for name, frame in months if len(frame)]
    rows = sum(len(frame) for _, frame in months)
    evidence = ShadowEvidence(shadow.version, names, rows, "none", [])
    if not names:
        evidence.reasons = [f"shadow v{shadow.version} has no labelled month scored by both yet"]
        return evidence
    pooled = np.concatenate([frame["label"].to_numpy() for _, frame in months])
    new = np.concatenate([frame["shadow"].to_numpy() for _, frame in months])
    old = np.concatenate([frame["champion"].to_numpy() for _, frame in months])
    threshold = config.decision_threshold
    try:
        paired = paired_difference(pooled, new, old, config.primary_metric, threshold)
    except DataError as error:
        evidence.reasons = [f"shadow v{shadow.version} on {evidence.evaluated_on}: {error}"]
        return evidence
    evidence.challenger = rounded(score_metrics(new, pooled, threshold))
    evidence.champion = rounded(score_metrics(old, pooled, threshold))
    evidence.paired = to_jsonable(paired)
    gate = None
    if config.fairness.gate_attributes:
        gate = version_fairness_gates(
            shadow.metrics, config.fairness, config.thresholds, shadow.version
        )
    decision = promotion_decision(
        evidence.challenger,
        evidence.champion,
        config.thresholds,
        config.primary_metric,
        gate,
        paired=paired,
    )
    evidence.decision = decision.outcome
    evidence.reasons = decision.reasons + [f"judged on {evidence.evaluated_on}"]
    return evidence


def shadow_months(
    config: ModelConfig,
    folders: list[Path],
    champion: ModelVersionInfo,
    shadow: ModelVersionInfo,
    current: tuple[Path, pd.DataFrame] | None,
) -> list[tuple[str, pd.DataFrame]]:
    """Every matured period (``folders``) and the current one (its folder and its labelled
    rows, when the batch has labels) that both versions scored, oldest first."""
    months = []
    for folder in folders:
        both = scored_by_both(config, folder, champion.version, shadow.version)
        if both is not None and len(both):
            months.append((folder.name, both))
    if current is not None:
        folder, labelled = current
        key = id_column(config)
        labels = labelled[[key, config.target]]
        both = scored_by_both(config, folder, champion.version, shadow.version, labels)
        if both is not None and len(both):
            months.append((folder.name, both))
    return months
