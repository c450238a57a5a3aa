"""The promotion gate's error rates, on simulated champion/challenger pairs with a known truth.

    python bench/promotion.py [--pairs 400] [--rows 1000]

Two models scored on the same rows have correlated errors; how much decides the paired test's
power. The correlation is measured first, on real models: two of the attrition model's
estimators trained on disjoint synthetic samples, scored on fresh rows (the within-class
correlation of their logits). Pairs are then drawn from the binormal model with that
correlation: "equal" pairs share one true ROC AUC (0.75), "better" pairs differ by 0.03, on
``--rows`` rows at the attrition positive rate. For each of several ``promotion_confidence``
values it prints how often the gate promotes (``policy.promotion_decision`` with DeLong's
``paired_difference``), and the 95% interval's coverage of the true difference, against the
goals of issue 23: coverage at least 93%, an equal challenger promoted at most 5% of the time,
a better one at least 80%.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from scipy.stats import norm

from pipeline.config import load_settings
from pipeline.model.synthetic import generate
from pipeline.model.train import refit
from pipeline.monitoring.comparison import PairedDifference, paired_difference
from pipeline.monitoring.performance import labelled_rows
from pipeline.monitoring.policy import promotion_decision

BASE_AUC = 0.75
GAIN = 0.03
CONFIDENCES = (0.0, 0.8, 0.9, 0.95, 0.975, 0.99)


def measured_correlation(seed: int = 0) -> float:
    """Within-class correlation of two independently trained attrition models' logits."""
    config = load_settings().model("attrition")
    fresh = generate(config, 6000, seed + 99, start_id=9 * 10**6)
    fresh["__label__"] = (fresh[config.target] == config.positive_class).astype(float)
    features, labels = labelled_rows(fresh, config)
    logits = []
    for part in (1, 2):
        frame = generate(config, 3000, seed + part, start_id=part * 10**6)
        frame["__label__"] = (frame[config.target] == config.positive_class).astype(float)
        fitted = refit(config, "logistic_regression", {"C": 1.0}, frame, seed)
        scores = np.clip(fitted.model.predict_proba(features)[:, 1], 1e-6, 1 - 1e-6)
        logits.append(np.log(scores / (1 - scores)))
    within = [np.corrcoef(logits[0][labels == k], logits[1][labels == k])[0, 1] for k in (0, 1)]
    return float(np.mean(within))


def draw_pair(
    rng: np.random.Generator, rows: int, rate: float, auc_old: float, auc_new: float, rho: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two models' scores: unit-variance classes, separation set by each AUC."""
    labels = (rng.random(rows) < rate).astype(int)
    shared = rng.normal(size=rows)
    scores = []
    for auc in (auc_new, auc_old):
        separation = np.sqrt(2) * norm.ppf(auc)
        own = rng.normal(size=rows)
        scores.append(separation * labels + np.sqrt(rho) * shared + np.sqrt(1 - rho) * own)
    return labels, scores[0], scores[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    settings = load_settings()
    config = settings.model("attrition")
    rate = float(config.synthetic.get("positive_rate", 0.16))
    rho = measured_correlation(args.seed)
    print(f"within-class correlation of two attrition models' logits: {rho:.3f}")
    rng = np.random.default_rng(args.seed)
    results: dict[str, list[tuple[bool, PairedDifference]]] = {"equal": [], "better": []}
    for kind, gain in (("equal", 0.0), ("better", GAIN)):
        for _ in range(args.pairs):
            labels, new, old = draw_pair(rng, args.rows, rate, BASE_AUC, BASE_AUC + gain, rho)
            paired = paired_difference(labels, new, old)
            covered = paired.lower <= gain <= paired.upper
            results[kind].append((covered, paired))
    configured = config.thresholds.promotion_confidence
    print(
        f"{args.pairs} pairs of each kind, {args.rows} rows, positive rate {rate}, true ROC AUC "
        f"{BASE_AUC} vs {BASE_AUC} (equal) and {BASE_AUC + GAIN:.2f} (better); "
        f"min_improvement {config.thresholds.min_improvement}"
    )
    coverage = {kind: np.mean([r[0] for r in rows]) for kind, rows in results.items()}
    print(
        f"95% interval covers the true difference: equal pairs {coverage['equal']:.1%}, "
        f"better pairs {coverage['better']:.1%} (goal at least 93%): "
        f"{'met' if min(coverage.values()) >= 0.93 else 'MISSED'}"
    )
    print("| promotion_confidence | equal promoted | better promoted |")
    print("| ---: | ---: | ---: |")
    rates = {}
    for confidence in sorted({*CONFIDENCES, configured}):
        thresholds = dataclasses.replace(
            config.thresholds, promotion_confidence=confidence, min_roc_auc=0.0, min_f1=0.0
        )
        shares = []
        for kind in ("equal", "better"):
            promoted = 0
            for _, paired in results[kind]:
                decision = promotion_decision(
                    {"roc_auc": paired.challenger, "f1": 1.0},
                    {"roc_auc": paired.champion},
                    thresholds,
                    paired=paired,
                )
                promoted += decision.outcome == "promote"
            shares.append(promoted / len(results[kind]))
        rates[confidence] = shares
        mark = " (configured)" if confidence == configured else ""
        print(f"| {confidence:g}{mark} | {shares[0]:.1%} | {shares[1]:.1%} |")
    equal, better = rates[configured]
    print(
        f"configured promotion_confidence {configured:g}: equal challenger promoted "
        f"{equal:.1%} (goal at most 5%): {'met' if equal <= 0.05 else 'MISSED'}; better by "
        f"{GAIN} promoted {better:.1%} (goal at least 80%): {'met' if better >= 0.8 else 'MISSED'}"
    )
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
