"""NannyML's CBPE on the data bench/estimation.py hands over: run under a NannyML interpreter.

    python bench/nannyml_cbpe.py DATA.json OUT.json

DATA holds the reference scores and labels and each month's scores; OUT gets NannyML's
estimated ROC AUC per month (one chunk per month). Not part of the project's environment.
"""

from __future__ import annotations

import json
import os
import sys

# NannyML sends usage analytics to a third party by default; this machine reaches no such
# host, and a benchmark has no business calling out. Off before the import reads it.
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import nannyml as nml  # type: ignore[import-not-found]  # noqa: E402
import pandas as pd  # noqa: E402


def main(data_path: str, out_path: str) -> None:
    data = json.loads(open(data_path, encoding="utf-8").read())
    threshold = float(data["threshold"])
    reference = pd.DataFrame(data["reference"]).rename(columns={"scores": "score", "labels": "y"})
    reference["pred"] = (reference["score"] >= threshold).astype(int)
    estimates = []
    for month in data["months"]:
        analysis = pd.DataFrame({"score": month["scores"]})
        analysis["pred"] = (analysis["score"] >= threshold).astype(int)
        cbpe = nml.CBPE(
            y_pred_proba="score",
            y_pred="pred",
            y_true="y",
            problem_type="classification_binary",
            metrics=["roc_auc"],
            chunk_number=1,
        )
        cbpe.fit(reference)
        frame = cbpe.estimate(analysis).filter(period="analysis").to_df()
        estimates.append(float(frame[("roc_auc", "value")].iloc[0]))
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"roc_auc": estimates}, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
