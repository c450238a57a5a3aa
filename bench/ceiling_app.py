"""The framework's ceiling for bench/load.py: FastAPI under uvicorn doing no work but the JSON.

It parses the same request body as `POST /predict` and answers a constant prediction per
record, so the load bench can print Driftgate's throughput as a share of what the framework
alone reaches on this machine, in the same run.
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI

app = FastAPI()


@app.post("/predict")
def predict(payload: Any = Body(...)) -> Any:
    records = payload.get("records", []) if isinstance(payload, dict) else payload
    return {
        "model_version": 0,
        "predictions": [{"score": 0.5, "predicted": False} for _ in records],
    }


@app.get("/health")
def health() -> Any:
    return {"status": "ok"}
