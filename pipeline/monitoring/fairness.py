"""Fairness: per-group selection rate, TPR and FPR for the configured sensitive attributes.

Pure computation on labels, predicted classes and the attributes' values: the registry logs the
result, the policy gates on it, the card and the PR show it. A numeric attribute (age) is
grouped into the configured bands. Ratios are the smallest group's rate over the largest one,
among groups with enough rows to say anything (``min_group_rows``); smaller groups are shown but
left out of the ratio, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.config import FAIRNESS_RATES, FairnessConfig, ModelConfig
from pipeline.monitoring.performance import positive_scores

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

UPPER = "_upper"  # suffix of a ratio's upper confidence bound in the metrics
_Z_95 = 1.6449  # one-sided 95% normal quantile
FAIRNESS_ARTIFACT = "fairness/fairness.json"  # the held-out test split, at training
# Challenger and champion on the rows they were compared on, logged with the challenger.
RECENT_FAIRNESS_ARTIFACT = "fairness/recent.json"


@dataclass
class GroupRates:
    group: str
    rows: int
    positives: int
    selection_rate: float
    tpr: float | None
    fpr: float | None


@dataclass
class AttributeFairness:
    attribute: str
    groups: list[GroupRates]
    ratios: dict[str, float | None]
    small_groups: list[str] = field(default_factory=list)
    # One-sided 95% upper confidence bound of each ratio: how high it could plausibly be.
    ratio_upper: dict[str, float | None] = field(default_factory=dict)


@dataclass
class FairnessReport:
    evaluated_on: str
    rows: int
    attributes: list[AttributeFairness] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # configured attributes absent from the data

    def metrics(self) -> dict[str, float]:
        """Flat ``fairness_<attribute>_<rate>_ratio`` metrics, as MLflow and the gates read them."""
        values = {
            metric_name(a.attribute, rate): value
            for a in self.attributes
            for rate, value in a.ratios.items()
            if value is not None
        }
        values.update(
            {
                metric_name(a.attribute, rate) + UPPER: value
                for a in self.attributes
                for rate, value in a.ratio_upper.items()
                if value is not None
            }
        )
        return values

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FairnessReport:
        attributes = [
            AttributeFairness(
                attribute=a["attribute"],
                groups=[GroupRates(**g) for g in a["groups"]],
                ratios=dict(a["ratios"]),
                small_groups=list(a.get("small_groups", [])),
                ratio_upper=dict(a.get("ratio_upper", {})),
            )
            for a in data.get("attributes", [])
        ]
        return cls(
            evaluated_on=str(data.get("evaluated_on", "")),
            rows=int(data.get("rows", 0)),
            attributes=attributes,
            missing=list(data.get("missing", [])),
        )


def metric_name(attribute: str, rate: str) -> str:
    return f"fairness_{attribute}_{rate}_ratio"


def group_labels(values: pd.Series, bands: tuple[float, ...]) -> pd.Series:
    """The attribute's groups: categorical values as they are, numbers in ``bands`` (e.g. age)."""
    import pandas as pd

    if not bands:
        return values.astype("string").fillna("(missing)")
    edges = sorted(bands)
    names = band_names(bands)
    numbers = pd.to_numeric(values, errors="coerce")
    cut = pd.cut(numbers, [float("-inf"), *edges, float("inf")], right=False, labels=names)
    return cut.astype("string").fillna("(missing)")


def band_names(bands: tuple[float, ...]) -> list[str]:
    edges = sorted(bands)
    names = [f"<{_number(edges[0])}"]
    names += [f"{_number(lo)}-{_number(hi - 1)}" for lo, hi in zip(edges, edges[1:])]
    return names + [f"{_number(edges[-1])}+"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def fairness_report(
    frame: pd.DataFrame,
    labels: np.ndarray,
    predicted: np.ndarray,
    settings: FairnessConfig,
    evaluated_on: str,
) -> FairnessReport:
    """Rates per group of every configured attribute present in ``frame`` (aligned with labels)."""
    import numpy as np

    report = FairnessReport(evaluated_on=evaluated_on, rows=len(labels))
    labels = np.asarray(labels, dtype=int)
    predicted = np.asarray(predicted, dtype=int)
    for attribute in settings.attributes:
        if attribute not in frame.columns:
            report.missing.append(attribute)
            continue
        bands = settings.bands_for(attribute)
        groups = group_labels(frame[attribute].reset_index(drop=True), bands)
        rates: list[GroupRates] = []
        # Bands in age order (<30 first); categories alphabetically.
        names = band_names(bands) if bands else sorted(groups.unique())
        for name in [n for n in names if (groups == n).any()] + (
            ["(missing)"] if bands and (groups == "(missing)").any() else []
        ):
            mask = (groups == name).to_numpy()
            rates.append(_rates(str(name), labels[mask], predicted[mask]))
        counted = [g for g in rates if g.rows >= settings.min_group_rows]
        report.attributes.append(
            AttributeFairness(
                attribute=attribute,
                groups=rates,
                ratios={
                    rate: _ratio([getattr(g, rate) for g in counted]) for rate in FAIRNESS_RATES
                },
                ratio_upper={rate: _ratio_upper(counted, rate) for rate in FAIRNESS_RATES},
                small_groups=[g.group for g in rates if g.rows < settings.min_group_rows],
            )
        )
    return report


def _rates(group: str, labels: np.ndarray, predicted: np.ndarray) -> GroupRates:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    selected_positive = int((predicted[labels == 1]).sum())
    selected_negative = int((predicted[labels == 0]).sum())
    return GroupRates(
        group=group,
        rows=len(labels),
        positives=positives,
        selection_rate=float(predicted.mean()) if len(labels) else 0.0,
        tpr=selected_positive / positives if positives else None,
        fpr=selected_negative / negatives if negatives else None,
    )


def _ratio(values: list[float | None]) -> float | None:
    """Smallest over largest rate; 1.0 when every group is at zero; None below two groups."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return None
    if max(known) == 0:
        return 1.0
    return min(known) / max(known)


def _ratio_upper(groups: list[GroupRates], rate: str) -> float | None:
    """One-sided 95% upper bound of the smallest-over-largest ratio of ``rate``.

    Delta method on the log of a ratio of two proportions (the lowest and the highest group),
    with half a count added to an empty one. A ratio under the gate whose upper bound is above
    it may be noise: on a few hundred rows a fair model's ratio swings by 0.1 or more.
    """
    import math

    known: list[tuple[GroupRates, float]] = [
        (g, float(getattr(g, rate))) for g in groups if getattr(g, rate) is not None
    ]
    if len(known) < 2:
        return None
    low, low_rate = min(known, key=lambda k: k[1])
    high, high_rate = max(known, key=lambda k: k[1])
    if high_rate == 0:
        return 1.0
    n_low, n_high = _denominator(low, rate), _denominator(high, rate)
    p_low = max(low_rate, 0.5 / n_low)
    p_high = min(high_rate, 1 - 0.5 / n_high)
    spread = math.sqrt((1 - p_low) / (n_low * p_low) + (1 - p_high) / (n_high * p_high))
    return float(min(1.0, (p_low / p_high) * math.exp(_Z_95 * spread)))


def _denominator(group: GroupRates, rate: str) -> int:
    """The rows a rate is a share of: all (selection), positives (TPR), negatives (FPR)."""
    if rate == "tpr":
        return group.positives
    if rate == "fpr":
        return group.rows - group.positives
    return group.rows


def model_fairness(
    model: Any,
    frame: pd.DataFrame,
    labels: np.ndarray,
    config: ModelConfig,
    evaluated_on: str,
) -> FairnessReport:
    """``model``'s fairness on labelled ``frame`` (features plus the sensitive attributes)."""
    predicted = (
        positive_scores(model, frame[config.features]) >= config.decision_threshold
    ).astype(int)
    return fairness_report(frame, labels, predicted, config.fairness, evaluated_on)
