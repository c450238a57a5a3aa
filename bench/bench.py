"""Driftgate's speed, measured in one run against baselines on the same rows.

    python bench/bench.py [--rows 1000000] [--model attrition]

Prints, for a synthetic batch of ``--rows`` rows:

1. ``predict``: rows/s of ``predict_file`` (read, validate, score in chunks, write Parquet and
   the summary) vs the raw model's ``predict_proba`` on the same rows already in memory.
   The median of 3 runs of each. Goal: at least 0.9 of raw.
2. ``drift``: wall time of ``detect_drift`` (validation, sampling, Evidently with tests, the
   prediction drift column) vs a bare Evidently ``DataDriftPreset`` report on the same two
   frames. Goal: at most 1.15 times the bare report.
3. Peak memory of ``predict_file`` at a quarter, half and all of the rows, each measured in a
   fresh process as the growth of the peak RSS over the RSS after loading the model. Goal:
   flat, because prediction is chunked.

Timings on a shared machine are noisy; the ratios are what to read, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_rss_mib() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    # child started by a 2 GB parent would report the parent's peak as its own.
    return _status_mib("VmHWM")


def _fixture(work: Path, rows: int, model_name: str) -> tuple[Any, Any, Path, Path]:
    """A trained model, the config, a reference batch and a ``rows``-row current batch."""
    import pickle

    from pipeline.config import load_settings
    from pipeline.model.schema import validate_batch
    from pipeline.model.synthetic import generate
    from pipeline.model.train import train

    config = load_settings(ROOT / "pyproject.toml").model(model_name)
    reference = generate(config, 5000, seed=1)
    model = train(config, validate_batch(reference, config, "reference").frame, seed=0).model
    reference_path = work / "reference.parquet"
    reference.to_parquet(reference_path, index=False)
    current_path = work / "current.parquet"
    # Generating a million rows at once is memory-hungry; write them in slices.
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    step = 200_000
    for start in range(0, rows, step):
        part = generate(config, min(step, rows - start), seed=100 + start, start_id=start + 1)
        table = pa.Table.from_pandas(part, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(current_path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    with open(work / "model.pkl", "wb") as handle:
        pickle.dump(model, handle)
    return model, config, reference_path, current_path


def bench_predict(
    model: Any, config: Any, current: Path, work: Path, chunk: int, repeats: int = 3
) -> dict[str, Any]:
    """Median of ``repeats`` alternating runs of each: one run of either is too noisy here."""
    import statistics

    import pandas as pd

    from pipeline.model.predict import predict_file

    raw_times, our_times = [], []
    rows = 0
    for repeat in range(repeats):
        frame = pd.read_parquet(current)
        features = frame[config.features]
        started = time.perf_counter()
        model.predict_proba(features)
        raw_times.append(time.perf_counter() - started)
        del frame, features
        started = time.perf_counter()
        summary = predict_file(model, config, 1, "bench", current, work / f"predict{repeat}", chunk)
        our_times.append(time.perf_counter() - started)
        rows = summary.rows
    raw_seconds, ours_seconds = statistics.median(raw_times), statistics.median(our_times)
    return {
        "rows": rows,
        "raw_rows_per_s": rows / raw_seconds,
        "ours_rows_per_s": rows / ours_seconds,
        "ratio": raw_seconds / ours_seconds,
        "ratios": [r / o for r, o in zip(raw_times, our_times)],
    }


def bench_drift(model: Any, config: Any, reference: Path, current: Path) -> dict[str, float]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from pipeline.model.schema import validate_batch
    from pipeline.monitoring.drift import detect_drift

    ref_frame = pd.read_parquet(reference)
    cur_frame = pd.read_parquet(current)

    started = time.perf_counter()
    definition = DataDefinition(
        numerical_columns=list(config.numeric_features),
        categorical_columns=list(config.categorical_features),
    )
    Report(metrics=[DataDriftPreset(columns=config.features)]).run(
        Dataset.from_pandas(cur_frame[config.features], data_definition=definition),
        Dataset.from_pandas(ref_frame[config.features], data_definition=definition),
    )
    bare_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ref_batch = validate_batch(ref_frame, config, str(reference))
    cur_batch = validate_batch(cur_frame, config, str(current))
    result, _ = detect_drift(config, ref_batch, cur_batch, "reference", "current", model, 1)
    ours_seconds = time.perf_counter() - started
    return {
        "bare_seconds": bare_seconds,
        "ours_seconds": ours_seconds,
        "ratio": ours_seconds / bare_seconds,
        "drift_detected": float(result.drift_detected),
    }


def _memory_child(work: Path, rows: int, chunk: int, model_name: str) -> None:
    """Runs in a fresh process: the peak RSS growth of predicting the first ``rows`` rows."""
    import pickle

    from pipeline.config import load_settings
    from pipeline.model.predict import predict_file

    config = load_settings(ROOT / "pyproject.toml").model(model_name)
    source = work / f"memory_{rows}.parquet"
    with open(work / "model.pkl", "rb") as handle:
        model = pickle.load(handle)
    # Warm up imports and the model on a few rows so that only the scan itself is measured.
    import pandas as pd

    model.predict_proba(pd.read_parquet(work / "reference.parquet")[config.features].head(10))
    before = _rss_mib()
    predict_file(model, config, 1, "bench", source, work / f"memory_{rows}", chunk)
    print(json.dumps({"rows": rows, "growth_mib": _peak_rss_mib() - before}))


def bench_memory(work: Path, rows: int, chunk: int, model_name: str) -> list[dict[str, float]]:
    import pyarrow.parquet as pq

    sizes = (rows // 4, rows // 2, rows)
    # Slices are cut here: reading the whole batch in the child would set its peak RSS. Parquet
    # is decoded a row group at a time, so the files use row groups of one chunk, as the
    # pipeline's own writer does; a file with one huge row group costs that group's size.
    table = pq.read_table(work / "current.parquet")
    for size in sizes:
        path = work / f"memory_{size}.parquet"
        pq.write_table(table.slice(0, size), path, row_group_size=chunk)
    del table
    results = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(work), "--rows", str(size)]
            + ["--chunk", str(chunk), "--model", model_name],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--model", default="attrition")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child, args.rows, args.chunk, args.model)
        return 0

    with tempfile.TemporaryDirectory(prefix="driftgate-bench-") as tmp:
        work = Path(tmp)
        print(f"preparing {args.rows:,} synthetic rows and a model ...", flush=True)
        model, config, reference, current = _fixture(work, args.rows, args.model)
        print(f"model: {type(model[-1]).__name__}")

        p = bench_predict(model, config, current, work, args.chunk)
        print(
            f"predict: {p['ours_rows_per_s']:,.0f} rows/s vs raw predict_proba "
            f"{p['raw_rows_per_s']:,.0f} rows/s (medians of 3) -> {p['ratio']:.2f} of raw "
            f"(goal >= 0.9; each run: {', '.join(f'{r:.2f}' for r in p['ratios'])})"
        )
        d = bench_drift(model, config, reference, current)
        print(
            f"drift: {d['ours_seconds']:.1f} s vs bare DataDriftPreset {d['bare_seconds']:.1f} s "
            f"-> {d['ratio']:.2f}x (goal <= 1.15x)"
        )
        for m in bench_memory(work, args.rows, args.chunk, args.model):
            print(f"predict peak memory growth at {m['rows']:>9,} rows: {m['growth_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
