"""Import what Driftgate's commands import, so that Python writes their byte code once.

Run by scripts/bootstrap.sh after an install. The heavy libraries are imported inside the
functions that use them (a command imports only what it needs); this names them all. A module
left out is compiled when first imported, so this list is a speed-up, not a requirement.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import pipeline

MODULES = (
    "evidently",
    "evidently.metrics",
    "evidently.legacy.metrics",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.data.pandas_dataset",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "sklearn.calibration",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.feature_extraction.text",
    "sklearn.inspection",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.svm",
    "skops.io",
    "pandas",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "plotly.graph_objects",
    "scipy.stats",
    "github",
    "fastapi",
    "uvicorn",
    "rich.progress",
)


def main() -> None:
    warnings.simplefilter("ignore")
    names = [
        m.name
        for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")
        if m.name != "pipeline.__main__"  # it runs the command line
    ]
    for name in [*MODULES, *names]:
        try:
            importlib.import_module(name)
        except ImportError:  # an extra that is not installed (e.g. pyspark)
            continue


if __name__ == "__main__":
    main()
