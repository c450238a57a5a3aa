"""Import what Driftgate's commands import, so that Python writes their byte code once.

Run by scripts/bootstrap.sh after an install, and with ``--libraries`` by the images'
docker/install.sh before Driftgate itself is installed (its own modules are compiled by pip
then). The heavy libraries are imported inside the
functions that use them (a command imports only what it needs); this names them all. A module
left out is compiled when first imported, so this list is a speed-up, not a requirement.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import warnings

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
    names: list[str] = []
    if "--libraries" not in sys.argv[1:]:
        import pipeline

        names = [
            m.name
            for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")
            if m.name != "pipeline.__main__"  # it runs the command line
        ]
    for name in [*MODULES, *names]:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            missing = (error.name or name).split(".")[0]
            if importlib.util.find_spec(missing) is None:
                continue  # not installed here: an extra (pyspark), or another image's package
            raise  # installed but failing to import: a broken install (an image build stops)


if __name__ == "__main__":
    main()
