"""Effect sizes of drift: how large a shift is, which a p-value cannot say.

With 2,000 to 20,000 rows a side any shift, however small, has a p-value near 0; these do not
grow with the sample. PSI (population stability index) for every column, read with the usual
bands (under 0.1 small, 0.1 to 0.25 moderate, above 0.25 large); beside it the Wasserstein
distance of a numeric column divided by the reference's standard deviation, and the
Jensen-Shannon distance (base 2, 0 to 1) of a categorical column's level shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PSI_BANDS = (0.1, 0.25)
_FLOOR = 1e-4  # an empty bin's share: PSI's logarithm needs every share above 0


@dataclass(frozen=True)
class EffectSize:
    psi: float
    name: str  # "wasserstein (in reference sd)" or "jensen-shannon"
    value: float

    @property
    def band(self) -> str:
        return psi_band(self.psi)


def psi_band(psi: float) -> str:
    low, high = PSI_BANDS
    return "small" if psi < low else "moderate" if psi < high else "large"


def effect_size(reference: pd.Series, current: pd.Series, kind: str) -> EffectSize:
    """PSI and the kind's distance between two samples of one column (missing values dropped)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    ref, cur = reference.dropna(), current.dropna()
    if len(ref) == 0 or len(cur) == 0:
        return EffectSize(0.0, "none", 0.0)
    if kind == "numeric":
        r = ref.to_numpy(dtype="float64")
        c = cur.to_numpy(dtype="float64")
        edges = np.unique(np.quantile(r, np.linspace(0, 1, 11)))
        inner = edges[1:-1]
        r_share = np.bincount(np.searchsorted(inner, r, side="right"), minlength=len(inner) + 1)
        c_share = np.bincount(np.searchsorted(inner, c, side="right"), minlength=len(inner) + 1)
        spread = float(np.std(r))
        distance = float(wasserstein_distance(r, c)) / spread if spread > 0 else 0.0
        return EffectSize(
            _psi(r_share / len(r), c_share / len(c)), "wasserstein (in reference sd)", distance
        )
    levels = sorted(set(ref.astype(str)) | set(cur.astype(str)))
    r_counts = ref.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    c_counts = cur.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    r_share, c_share = r_counts / r_counts.sum(), c_counts / c_counts.sum()
    distance = float(jensenshannon(r_share, c_share, base=2)) if len(levels) > 1 else 0.0
    return EffectSize(_psi(r_share, c_share), "jensen-shannon", distance)


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    import numpy as np

    r = np.clip(reference.astype("float64"), _FLOOR, None)
    c = np.clip(current.astype("float64"), _FLOOR, None)
    return float(np.sum((c - r) * np.log(c / r)))
