"""The champion's scores for small batches (the API's requests), without the pandas plumbing.

``build_model`` makes a Pipeline of a ColumnTransformer (numeric columns imputed, then scaled
or, for histogram boosting, binned; categorical ones one-hot encoded) and an estimator. On a
request of a few records, the ColumnTransformer's routing of pandas columns to its parts costs
more than the parts and the estimator together (about 2 of 4 ms here). ``DirectScorer`` routes
the columns itself, as arrays, to the same fitted parts, each run as the same numpy operations
on its fitted state (``_compiled``; a part of another kind runs its own ``transform``), and
hands their output to the same fitted estimator. It is only used when, on a reference frame,
it gives the pipeline's own scores to 1e-12; any other model shape (text vectorizers, sparse
output, a remainder) is scored by the pipeline.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_AGREEMENT = 1e-12


@dataclass(frozen=True)
class _Part:
    transformer: Any
    columns: tuple[str, ...]
    numeric: bool
    # The fitted transformer's arithmetic as plain numpy (``_compiled``), when it is one of the
    # kinds ``build_model`` makes; None: its own ``transform``.
    compiled: Callable[[np.ndarray], np.ndarray] | None = None


def _compiled(transformer: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """``transformer.transform`` as numpy operations on its fitted state, or None.

    scikit-learn checks and converts its input on every call; on a request of a few records
    that was most of the transform's time (the one-hot encoder alone was 17% of the server's
    samples under py-spy). The same operations in the same order give the same floats; the
    scorer's agreement check (``DirectScorer.compile``) stands behind them.
    """
    import numpy as np

    kind = type(transformer).__name__
    if kind == "Pipeline":
        found = [_compiled(step) for _, step in transformer.steps]
        stages = [stage for stage in found if stage is not None]
        if len(stages) != len(found):
            return None

        def chained(values: np.ndarray) -> np.ndarray:
            for stage in stages:
                values = stage(values)
            return values

        return chained
    if kind == "SimpleImputer" and not transformer.add_indicator:
        missing = transformer.missing_values
        if not (isinstance(missing, float) and np.isnan(missing)):
            return None  # only NaN as "missing", the default build_model keeps
        fill = np.asarray(transformer.statistics_, dtype="float64")
        if np.isnan(fill).any():
            return None  # an all-missing column is dropped by the imputer: not this shape

        def imputed(values: np.ndarray) -> np.ndarray:
            return np.where(np.isnan(values), fill, values)

        return imputed
    if kind == "StandardScaler":
        mean = transformer.mean_ if transformer.with_mean else None
        scale = transformer.scale_ if transformer.with_std else None

        def scaled(values: np.ndarray) -> np.ndarray:
            values = values - mean if mean is not None else values.copy()
            if scale is not None:
                values /= scale
            return values

        return scaled
    if kind == "KBinsDiscretizer" and transformer.encode == "ordinal":
        inner = [edges[1:-1] for edges in transformer.bin_edges_]
        dtype = transformer.dtype or "float64"

        def binned(values: np.ndarray) -> np.ndarray:
            out = np.empty(values.shape, dtype=dtype)
            for j, edges in enumerate(inner):
                out[:, j] = np.searchsorted(edges, values[:, j], side="right")
            return out

        return binned
    if (
        kind == "OneHotEncoder"
        and transformer.handle_unknown == "ignore"
        and transformer.drop is None
        and not getattr(transformer, "_infrequent_enabled", False)
        and all(all(isinstance(v, str) for v in levels) for levels in transformer.categories_)
    ):
        offsets = np.cumsum([0] + [len(levels) for levels in transformer.categories_])
        positions = [
            {level: offsets[j] + i for i, level in enumerate(levels)}
            for j, levels in enumerate(transformer.categories_)
        ]
        width, dtype = int(offsets[-1]), transformer.dtype

        def encoded(values: np.ndarray) -> np.ndarray:
            out = np.zeros((values.shape[0], width), dtype=dtype)
            for j, position in enumerate(positions):
                for row, value in enumerate(values[:, j]):
                    at = position.get(value)  # a level never seen in training: all zeros
                    if at is not None:
                        out[row, at] = 1
            return out

        return encoded
    return None


def _compiled_scores(estimator: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A binary logistic regression's positive-class scores as numpy, or None.

    ``predict_proba`` checks its input again and builds both classes' columns; for the API's
    batches that was most of the estimator's time. These are its operations: the decision
    ``X @ coef.T + intercept``, then the logistic function (scipy's ``expit``, as it uses).
    """
    if type(estimator).__name__ != "LogisticRegression" or len(estimator.classes_) != 2:
        return None
    from scipy.special import expit

    coef, intercept = estimator.coef_.T, estimator.intercept_
    if coef.ndim != 2 or coef.shape[1] != 1:
        return None

    def positive(features: np.ndarray) -> np.ndarray:
        decision = (features @ coef + intercept).reshape(-1)
        return expit(decision, out=decision)  # type: ignore[no-any-return]

    return positive


class DirectScorer:
    """Positive-class scores of a fitted ``build_model`` pipeline from columns as arrays."""

    def __init__(self, parts: tuple[_Part, ...], estimator: Any) -> None:
        self.parts = parts
        self.estimator = estimator
        self.positive = _compiled_scores(estimator)

    @classmethod
    def compile(cls, model: Any, reference: pd.DataFrame) -> DirectScorer | None:
        """The direct scorer of ``model``, or None when its shape is not the one it knows or it
        does not reproduce ``model.predict_proba`` on ``reference``."""
        import numpy as np

        steps = getattr(model, "steps", None)
        if not steps or len(steps) != 2:
            return None
        (_, columns_step), (_, estimator) = steps
        if type(columns_step).__name__ != "ColumnTransformer":
            return None
        if getattr(columns_step, "sparse_output_", True) or not hasattr(estimator, "predict_proba"):
            return None
        parts = []
        for name, transformer, columns in columns_step.transformers_:
            if transformer == "drop" or (name == "remainder" and not len(columns)):
                continue
            if transformer == "passthrough" or not isinstance(columns, list):
                return None
            if not all(isinstance(c, str) for c in columns):
                return None
            numeric = all(reference[c].dtype.kind in "biuf" for c in columns)
            parts.append(_Part(transformer, tuple(columns), numeric, _compiled(transformer)))
        if not parts:
            return None
        scorer = cls(tuple(parts), estimator)
        sample = reference.head(500)
        try:
            ours = scorer.scores({c: sample[c].to_numpy() for c in sample.columns})
        except Exception:  # noqa: BLE001 - any shape it cannot take: the pipeline scores
            return None
        theirs = model.predict_proba(sample)[:, 1]
        if ours.shape != theirs.shape or np.abs(ours - theirs).max() > _AGREEMENT:
            return None
        return scorer

    def scores(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Scores for the rows of ``columns`` (name -> 1-D array, as validation makes them)."""
        import numpy as np

        blocks = []
        with warnings.catch_warnings():
            # The parts were fitted on named columns; these are the same columns, unnamed.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            for part in self.parts:
                values = np.column_stack(
                    [
                        np.asarray(columns[c], dtype="float64" if part.numeric else object)
                        for c in part.columns
                    ]
                )
                if part.compiled is not None:
                    block = part.compiled(values)
                else:
                    block = part.transformer.transform(values)
                blocks.append(block.toarray() if hasattr(block, "toarray") else block)
            features = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
            if self.positive is not None:
                return np.asarray(self.positive(np.asarray(features, dtype="float64")))
            return np.asarray(self.estimator.predict_proba(features)[:, 1], dtype="float64")
