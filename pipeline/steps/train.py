"""`pipeline train` and the cycle's first run: a synthetic batch, a trained and registered model."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import TRAINING_DATA_TAG, ModelVersionInfo, Registry
from pipeline.model.data import read_batch, write_frame
from pipeline.model.labels import id_column
from pipeline.model.schema import validate_batch
from pipeline.model.synthetic import generate
from pipeline.model.train import train
from pipeline.results import staged_outputs

log = logging.getLogger("pipeline")


def generate_batch(
    settings: Settings,
    config: ModelConfig,
    out: Path,
    rows: int,
    seed: int,
    drift: str = "none",
    labels: bool = True,
    start_id: int = 1,
    label_file: Path | None = None,
) -> Path:
    """A synthetic batch at ``out``; with ``label_file`` its labels go there instead.

    That is how late labels arrive: the batch without its target, and a file of ids and
    labels (``label_file``) that the cycle ingests once ``label_delay_months`` have passed.
    """
    frame = generate(config, rows, seed, drift=drift, start_id=start_id, labels=labels)
    if label_file is not None and labels:
        key = id_column(config)
        with staged_outputs(label_file.parent) as outputs:
            write_frame(outputs, label_file.name, frame[[key, config.target]])
        frame = frame.drop(columns=[config.target])
    with staged_outputs(out.parent) as outputs:
        write_frame(outputs, out.name, frame)
    return out


def train_step(
    settings: Settings,
    config: ModelConfig,
    data: Path | None,
    seed: int = 0,
    reason: str = "manual training",
) -> ModelVersionInfo:
    if data is None:
        data = settings.path(settings.data_dir) / config.name / "training.parquet"
        log.info("no --data given: generating %d synthetic training rows", config.training_rows)
        generate_batch(settings, config, data, config.training_rows, seed)
    batch = validate_batch(read_batch(data), config, str(data))
    outcome = train(config, batch.frame, seed)
    registry = Registry(settings, config)
    source = {TRAINING_DATA_TAG: f"{data.name}: {len(batch.frame)} rows"}
    return registry.log_training(outcome, batch.frame, reason=reason, tags=source)
