"""Estimated performance against the truth, and against NannyML's CBPE on the same data.

    python bench/estimation.py [--months 60] [--nannyml-python /path/to/venv/bin/python]

Trains the attrition champion on the synthetic reference, then scores ``--months`` synthetic
months (half same-distribution, half covariate shift of growing size) and prints, for the
estimated ROC AUC: how often the realized value fell inside the band (the goal: at least 90%),
the mean and largest error, the mean band width, and the time per estimate.

NannyML is not a dependency (its own dependencies are too heavy for this runtime): with
``--nannyml-python`` the same reference and months are handed to ``bench/nannyml_cbpe.py``
under that interpreter (a virtual environment with ``pip install nannyml``), and the largest
difference between the two estimates is printed (the goal: within 0.02).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from pipeline.config import load_settings
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.model.train import train
from pipeline.monitoring.estimation import PerformanceEstimator
from pipeline.monitoring.performance import labelled_rows, positive_scores

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--model", default="attrition")
    parser.add_argument("--nannyml-python", help="an interpreter that can import nannyml")
    args = parser.parse_args()

    config = load_settings().model(args.model)
    reference = validate_batch(generate(config, config.training_rows, 0), config, "reference")
    champion = train(config, reference.frame, 0)
    estimator = PerformanceEstimator(threshold=config.decision_threshold).fit(
        np.array(champion.test_scores), np.array(champion.test_labels), "held-out test split"
    )
    months, seconds = [], 0.0
    for index in range(args.months):
        shifted = index % 2 == 1
        strength = 0.25 + 1.5 * index / args.months if shifted else 1.0
        frame = generate(
            config,
            config.batch_rows,
            1000 + index,
            "covariate" if shifted else "none",
            start_id=(index + 1) * 10**6,
            strength=strength,
        )
        features, labels = labelled_rows(validate_batch(frame, config, "month").frame, config)
        scores = positive_scores(champion.model, features)
        started = time.perf_counter()
        estimate = estimator.estimate(scores)
        seconds += time.perf_counter() - started
        months.append(
            {
                "kind": "covariate shift" if shifted else "same distribution",
                "scores": scores.tolist(),
                "labels": labels.tolist(),
                "estimate": estimate.value,
                "lower": estimate.lower,
                "upper": estimate.upper,
                "realized": float(roc_auc_score(labels, scores)),
            }
        )

    print(f"model {config.name}: {args.months} months of {config.batch_rows} rows")
    for kind in ("same distribution", "covariate shift", None):
        chosen = [m for m in months if kind is None or m["kind"] == kind]
        inside = sum(m["lower"] <= m["realized"] <= m["upper"] for m in chosen)
        errors = np.array([m["estimate"] - m["realized"] for m in chosen])
        widths = np.array([m["upper"] - m["lower"] for m in chosen])
        print(
            f"  {kind or 'all':18s} coverage {inside}/{len(chosen)} = {inside / len(chosen):.0%}; "
            f"error mean {errors.mean():+.4f}, largest {np.abs(errors).max():.4f}; "
            f"band width mean {widths.mean():.4f}"
        )
    print(f"  estimate time: {1000 * seconds / len(months):.0f} ms per month")

    if args.nannyml_python:
        compare_with_nannyml(args.nannyml_python, champion, months, config.decision_threshold)


def compare_with_nannyml(
    python: str, champion: object, months: list[dict[str, object]], threshold: float
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.json"
        data.write_text(
            json.dumps(
                {
                    "threshold": threshold,
                    "reference": {
                        "scores": list(getattr(champion, "test_scores")),
                        "labels": list(getattr(champion, "test_labels")),
                    },
                    "months": [{"scores": m["scores"]} for m in months],
                }
            )
        )
        out = Path(folder) / "nannyml.json"
        # NannyML's usage analytics off (nannyml_cbpe.py sets it too): no call leaves the host.
        env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "PYTHONWARNINGS": "ignore"}
        subprocess.run(
            [python, str(HERE / "nannyml_cbpe.py"), str(data), str(out)], check=True, env=env
        )
        theirs = json.loads(out.read_text())["roc_auc"]
    ours = [float(m["estimate"]) for m in months]  # type: ignore[arg-type]
    differences = np.abs(np.array(ours) - np.array(theirs))
    print(
        f"  NannyML CBPE: largest difference {differences.max():.4f}, mean "
        f"{differences.mean():.4f} over {len(ours)} months"
    )


if __name__ == "__main__":
    sys.exit(main())
