"""Feature importance and its stability between champion and challenger.

Permutation importance (the drop in ROC AUC when one input column is shuffled) works for every
candidate estimator alike and is measured on the raw input columns a reviewer knows, not on
one-hot columns. Stability compares two models' rankings on the same rows: Spearman's rank
correlation, and the features whose rank moved most.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

IMPORTANCE_ARTIFACT = "importance/importance.json"  # the held-out test split, at training
# Challenger against the champion it was compared with, logged with the challenger.
STABILITY_ARTIFACT = "importance/stability.json"
_REPEATS = 3


@dataclass
class FeatureImportance:
    feature: str
    mean: float
    std: float
    rank: int


@dataclass
class RankMove:
    feature: str
    champion_rank: int
    challenger_rank: int

    @property
    def change(self) -> int:
        """Positive when the feature matters more to the challenger (its rank number fell)."""
        return self.champion_rank - self.challenger_rank


@dataclass
class ImportanceStability:
    evaluated_on: str
    rows: int
    champion_version: int | None
    challenger_version: int | None
    rank_correlation: float | None
    movers: list[RankMove] = field(default_factory=list)
    champion: list[FeatureImportance] = field(default_factory=list)
    challenger: list[FeatureImportance] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportanceStability:
        return cls(
            evaluated_on=str(data.get("evaluated_on", "")),
            rows=int(data.get("rows", 0)),
            champion_version=data.get("champion_version"),
            challenger_version=data.get("challenger_version"),
            rank_correlation=data.get("rank_correlation"),
            movers=[
                RankMove(m["feature"], m["champion_rank"], m["challenger_rank"])
                for m in data.get("movers", [])
            ],
            champion=[FeatureImportance(**f) for f in data.get("champion", [])],
            challenger=[FeatureImportance(**f) for f in data.get("challenger", [])],
        )


def permutation_importances(
    model: Any, features: pd.DataFrame, labels: np.ndarray, seed: int = 0
) -> list[FeatureImportance]:
    """Every input column's permutation importance on ROC AUC, most important first.

    The figures of ``sklearn.inspection.permutation_importance`` (same shuffles, same scores;
    held to it by tests/test_importance.py), but the shuffled copies are scored together, a
    few model calls in all instead of one per column and repeat: each call of a fitted pipeline
    costs about as much as scoring 20,000 rows (45 ms for 800 rows, 0.7 s for 72,800, with a
    forest here), and a retraining measured three models' importances.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.utils import check_random_state

    if len(set(labels.tolist())) < 2:
        return []
    # scikit-learn draws one seed from ``seed`` and shuffles every column with its generator,
    # each repeat shuffling the indices again and the already shuffled column by them.
    column_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)

    def shuffled(name: str) -> Iterator[pd.DataFrame]:
        generator = check_random_state(column_seed)
        order, values = np.arange(len(features)), features[name].to_numpy()
        for _ in range(_REPEATS):
            generator.shuffle(order)
            values = values[order]
            yield features.assign(**{name: values})

    copies = (copy for name in features.columns for copy in shuffled(name))
    baseline, *permuted = [
        roc_auc_score(labels, scores) for scores in _scores_in_chunks(model, features, copies)
    ]
    drops = (baseline - np.array(permuted)).reshape(len(features.columns), _REPEATS)
    ranked = sorted(
        zip(features.columns, drops.mean(axis=1), drops.std(axis=1)),
        key=lambda item: (-item[1], str(item[0])),
    )
    return [
        FeatureImportance(str(name), float(mean), float(std), rank)
        for rank, (name, mean, std) in enumerate(ranked, start=1)
    ]


_ROWS_PER_CALL = 250_000  # what one model call scores at most, so memory stays bounded


def _scores_in_chunks(
    model: Any, first: pd.DataFrame, rest: Iterator[pd.DataFrame]
) -> Iterator[np.ndarray]:
    """The positive-class scores of each frame, in order, from as few model calls as the row
    budget allows; the frames are made as they are needed, never all at once."""
    import itertools

    import numpy as np
    import pandas as pd

    per_call = max(1, _ROWS_PER_CALL // max(1, len(first)))
    frames = itertools.chain([first], rest)
    while group := list(itertools.islice(frames, per_call)):
        together = model.predict_proba(pd.concat(group, ignore_index=True))[:, 1]
        bounds = np.cumsum([len(f) for f in group])[:-1]
        yield from np.split(np.asarray(together, dtype="float64"), bounds)


def stability(
    champion: list[FeatureImportance], challenger: list[FeatureImportance], movers: int = 5
) -> tuple[float | None, list[RankMove]]:
    """Spearman's rank correlation of two rankings of the same features, and the biggest movers."""
    ranks_before = {f.feature: f.rank for f in champion}
    ranks_after = {f.feature: f.rank for f in challenger}
    shared = sorted(set(ranks_before) & set(ranks_after))
    if len(shared) < 2:
        return None, []
    n = len(shared)
    # Re-rank within the shared features so both rankings run 1..n (ties are already broken).
    before = _dense({f: ranks_before[f] for f in shared})
    after = _dense({f: ranks_after[f] for f in shared})
    squared = sum((before[f] - after[f]) ** 2 for f in shared)
    rho = 1 - 6 * squared / (n * (n * n - 1))
    moves = [RankMove(f, ranks_before[f], ranks_after[f]) for f in shared]
    moves.sort(key=lambda m: (-abs(m.change), m.feature))
    return rho, [m for m in moves[:movers] if m.change != 0]


def _dense(ranks: dict[str, int]) -> dict[str, int]:
    ordered = sorted(ranks, key=lambda f: ranks[f])
    return {feature: position for position, feature in enumerate(ordered, start=1)}


def compare_importance(
    champion_model: Any | None,
    challenger_model: Any,
    features: pd.DataFrame,
    labels: np.ndarray,
    evaluated_on: str,
    champion_version: int | None,
    challenger_version: int | None,
    seed: int = 0,
) -> ImportanceStability:
    """Both models' permutation importance on the same rows, and how much the ranking moved."""
    after = permutation_importances(challenger_model, features, labels, seed)
    before = (
        permutation_importances(champion_model, features, labels, seed)
        if champion_model is not None
        else []
    )
    rho, moves = stability(before, after) if before else (None, [])
    return ImportanceStability(
        evaluated_on=evaluated_on,
        rows=len(labels),
        champion_version=champion_version,
        challenger_version=challenger_version,
        rank_correlation=rho,
        movers=moves,
        champion=before,
        challenger=after,
    )
