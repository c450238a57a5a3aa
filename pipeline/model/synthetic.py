"""Synthetic batches for any configured model, driven only by its column specs.

Columns are drawn from a Gaussian copula: correlated standard normals (pairwise correlations from
``[synthetic] correlations``) pushed through each column's marginal (normal, lognormal, uniform,
discrete, categorical, constant, sequence). The label is Bernoulli with log-odds linear in the
*observed* features, each numeric one first turned into a normal score against the undrifted
distribution, so a covariate drift moves the inputs without changing P(label | inputs), while a
concept drift changes the weights. The intercept is solved for ``positive_rate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.config import ColumnSpec, ModelConfig
from pipeline.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DRIFT_KINDS = ("none", "covariate", "prediction", "concept", "mixed")
LATENT_DISTS = ("normal", "lognormal", "uniform", "discrete", "categorical")
_REFERENCE_ROWS = 20000
_REFERENCE_SEED = 20240101


def generate(
    config: ModelConfig,
    rows: int,
    seed: int,
    drift: str = "none",
    start_id: int = 1,
    labels: bool = True,
    strength: float = 1.0,
    positive_rate: float | None = None,
) -> pd.DataFrame:
    """``rows`` synthetic rows with all schema columns (the target too when ``labels``).

    ``strength`` scales the drift (0: none, 1: as configured, negative: the other way for
    numeric shifts), so a history can drift gradually; ``positive_rate`` overrides the
    configured one (a change of the prior).
    """
    import numpy as np

    if drift not in DRIFT_KINDS:
        raise ConfigError(f"unknown drift kind '{drift}' (choose from {', '.join(DRIFT_KINDS)})")
    if rows <= 0:
        raise ConfigError("--rows must be a positive number")
    if config.text_features:
        from pipeline.model.messages import generate_messages

        frame = generate_messages(config, rows, seed, drift, labels, strength, positive_rate)
        for id_spec in config.columns_with_role("id"):
            frame.insert(0, id_spec.name, np.arange(start_id, start_id + rows))
        return frame
    spec = config.synthetic
    drift_spec: Mapping[str, Any] = spec.get("drift", {})
    changes: dict[str, Mapping[str, Any]] = {}
    weight_factors: Mapping[str, float] = {}
    if drift in ("covariate", "mixed"):
        changes.update(drift_spec.get("covariate", {}))
    if drift == "prediction":
        changes.update(drift_spec.get("prediction", {}))
    if drift in ("concept", "mixed"):
        weight_factors = drift_spec.get("concept", {})
    if strength != 1.0:
        changes = {name: _scaled(config, name, c, strength) for name, c in changes.items()}
        weight_factors = {k: 1 + (float(f) - 1) * strength for k, f in weight_factors.items()}

    reference = _draw(config, _REFERENCE_ROWS, np.random.default_rng(_REFERENCE_SEED), {}, 1)
    rng = np.random.default_rng(seed)
    frame = _draw(config, rows, rng, changes, start_id)
    if labels:
        weights = _weights(config, weight_factors)
        intercept = _solve_intercept(
            _linear_score(reference, reference, config, weights),
            float(spec.get("positive_rate", 0.2)) if positive_rate is None else positive_rate,
        )
        score = intercept + _linear_score(frame, reference, config, weights)
        probability = 1.0 / (1.0 + np.exp(-score))
        positive = rng.random(rows) < probability
        target = config.column(config.target)
        negative = next(level for level in target.levels if level != config.positive_class)
        frame[config.target] = np.where(positive, config.positive_class, negative)
    ordered = [c.name for c in config.columns if c.name in frame.columns]
    return frame[ordered]


def _scaled(
    config: ModelConfig, name: str, change: Mapping[str, Any], strength: float
) -> dict[str, Any]:
    """A configured drift of one column at ``strength`` times its size."""
    scaled: dict[str, Any] = {}
    if "shift" in change:
        scaled["shift"] = float(change["shift"]) * strength
    if "scale" in change:
        scaled["scale"] = max(0.05, 1 + (float(change["scale"]) - 1) * strength)
    if "p" in change:
        weight = min(abs(strength), 1.0)  # level shares move toward the drifted ones, not past
        before = config.column(name).synth.get("p") or [1 / len(change["p"])] * len(change["p"])
        scaled["p"] = [(1 - weight) * a + weight * b for a, b in zip(before, change["p"])]
    return scaled


def _draw(
    config: ModelConfig,
    rows: int,
    rng: np.random.Generator,
    changes: Mapping[str, Mapping[str, Any]],
    start_id: int,
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    from scipy.special import ndtr

    specs = [c for c in config.columns if c.role != "target"]
    latent = [c for c in specs if _dist(c) in LATENT_DISTS]
    index = {c.name: i for i, c in enumerate(latent)}
    correlation = np.eye(len(latent))
    for a, b, rho in config.synthetic.get("correlations", []):
        if a not in index or b not in index:
            raise ConfigError(f"[synthetic] correlations name unknown column '{a}' or '{b}'")
        correlation[index[a], index[b]] = correlation[index[b], index[a]] = float(rho)
    normals = rng.standard_normal((rows, len(latent))) @ _nearest_correlation(correlation).T
    uniforms = ndtr(normals)

    columns: dict[str, Any] = {}
    for spec in specs:
        dist = _dist(spec)
        change = changes.get(spec.name, {})
        params = {**spec.synth, **({"p": change["p"]} if "p" in change else {})}
        if dist in LATENT_DISTS:
            z = normals[:, index[spec.name]]
            u = uniforms[:, index[spec.name]]
            values = _marginal(spec, dist, params, z, u)
        elif dist == "constant":
            values = np.full(rows, params["value"])
        elif dist == "sequence":
            values = np.arange(start_id, start_id + rows)
        else:
            raise ConfigError(f"column '{spec.name}': unknown dist '{dist}'")
        columns[spec.name] = values

    for spec in specs:
        ceiling = spec.synth.get("at_most")
        if ceiling:
            columns[spec.name] = np.minimum(columns[spec.name], columns[ceiling])
        change = changes.get(spec.name, {})
        if spec.kind == "numeric" and ("scale" in change or "shift" in change):
            moved = columns[spec.name] * float(change.get("scale", 1.0)) + float(
                change.get("shift", 0.0)
            )
            low = -np.inf if spec.min is None else spec.min
            high = np.inf if spec.max is None else spec.max
            columns[spec.name] = np.clip(moved, low, high)
        if spec.kind == "numeric" and spec.dtype == "int":
            columns[spec.name] = np.rint(columns[spec.name]).astype("int64")
    return pd.DataFrame(columns)


def _dist(spec: ColumnSpec) -> str:
    default = "categorical" if spec.kind == "categorical" else "normal"
    return str(spec.synth.get("dist", default))


def _marginal(
    spec: ColumnSpec, dist: str, params: Mapping[str, Any], z: np.ndarray, u: np.ndarray
) -> np.ndarray:
    import numpy as np

    if dist in ("discrete", "categorical"):
        choices = list(spec.levels) if dist == "categorical" else list(params["values"])
        p = np.asarray(params.get("p", [1.0] * len(choices)), dtype=float)
        if len(p) != len(choices):
            raise ConfigError(f"column '{spec.name}': p has {len(p)} entries for {len(choices)}")
        cumulative = np.cumsum(p / p.sum())
        picked = np.minimum(np.searchsorted(cumulative, u, side="right"), len(choices) - 1)
        return np.asarray(choices, dtype=object if dist == "categorical" else float)[picked]
    if dist == "normal":
        values = float(params["mean"]) + float(params["sd"]) * z
    elif dist == "lognormal":
        values = float(params["median"]) * np.exp(float(params["sigma"]) * z)
        values = values + float(params.get("offset", 0.0))
    else:  # uniform
        low, high = float(params["lo"]), float(params["hi"])
        values = low + u * (high - low)
    low = float(params.get("lo", -np.inf))
    high = float(params.get("hi", np.inf))
    return np.clip(values, low, high)


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """A Cholesky factor of the closest valid correlation matrix (eigenvalues clipped)."""
    import numpy as np

    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    fixed = eigenvectors @ np.diag(np.clip(eigenvalues, 1e-4, None)) @ eigenvectors.T
    scale = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(scale, scale)
    result: np.ndarray = np.linalg.cholesky(fixed)
    return result


def _weights(config: ModelConfig, factors: Mapping[str, float]) -> dict[str, Any]:
    weights: dict[str, Any] = {}
    for name, weight in config.synthetic.get("weights", {}).items():
        factor = float(factors.get(name, 1.0))
        if isinstance(weight, Mapping):
            weights[name] = {level: float(w) * factor for level, w in weight.items()}
        else:
            weights[name] = float(weight) * factor
    return weights


def _linear_score(
    frame: pd.DataFrame, reference: pd.DataFrame, config: ModelConfig, weights: Mapping[str, Any]
) -> np.ndarray:
    import numpy as np
    from scipy.special import ndtri

    score = np.zeros(len(frame))
    for name, weight in weights.items():
        spec = config.column(name)
        if isinstance(weight, Mapping):
            for level, w in weight.items():
                if level not in spec.levels:
                    raise ConfigError(f"[synthetic] weights: '{level}' is not a level of {name}")
                score += w * (frame[name].to_numpy() == level)
        else:
            # Mid-rank against the undrifted sample, then the normal quantile: a normal score.
            ref = np.sort(reference[name].to_numpy(dtype=float))
            values = frame[name].to_numpy(dtype=float)
            below = np.searchsorted(ref, values, side="left")
            upto = np.searchsorted(ref, values, side="right")
            u = np.clip((below + upto) / (2.0 * len(ref)), 0.5 / len(ref), 1 - 0.5 / len(ref))
            normal_score = ndtri(u)
            score += weight * (normal_score - normal_score_mean(ref))
    return score


def normal_score_mean(ref: np.ndarray) -> float:
    """Mean normal score of the reference itself, so ties do not bias the intercept."""
    import numpy as np
    from scipy.special import ndtri

    below = np.searchsorted(ref, ref, side="left")
    upto = np.searchsorted(ref, ref, side="right")
    u = np.clip((below + upto) / (2.0 * len(ref)), 0.5 / len(ref), 1 - 0.5 / len(ref))
    return float(np.mean(ndtri(u)))


def _solve_intercept(score: np.ndarray, rate: float) -> float:
    import numpy as np

    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(middle + score)))) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
