"""The spark engine: a batch scored by the champion as a Spark UDF, and sampled for drift in Spark.

The batch never comes to this process. Schema checks and rejected-row counts run as Spark
expressions (the same checks, in the same order, as ``pipeline.model.schema``: ``row_checks``),
the champion scores the accepted rows through ``mlflow.pyfunc.spark_udf`` on its alias, the
predictions are written as a folder of Parquet parts, and only aggregates come back: counts,
missing values, a histogram of scores. For drift, Spark draws the sample (``drift_sample_rows``
rows, uniformly) and only the sample crosses over to pandas for the tests.

Local mode (``local[*]``) unless ``spark_master`` names a cluster; with Spark Connect's
``SPARK_REMOTE`` set (``Settings.spark_remote``), the session is remote and this machine needs
no Java.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ColumnSpec, ModelConfig
from pipeline.errors import ConfigError, DataError, PipelineError, RegistryError, first_line
from pipeline.model.data import (
    SUPPORTED_SUFFIXES,
    check_csv_header,
    dataset_location,
    parquet_parts,
)
from pipeline.model.engine import ScoringModel
from pipeline.model.predict import (
    HISTOGRAM_BINS,
    PREDICTIONS_FILE,
    SUMMARY_FILE,
    PredictionSummary,
    ScoreStats,
)
from pipeline.model.schema import (
    Population,
    ValidatedBatch,
    booleans_not_numeric,
    empty_column,
    not_numeric,
    require_features,
    row_checks,
    unknown_labels,
    unseen_levels,
    validate_batch,
)
from pipeline.results import staged_outputs

PROBLEM = "__problem__"
# Where a row sits in the batch (file, then row in it): the sample goes back in batch order.
FILE_POSITION, ROW_POSITION = "__file__", "__row__"
# Local mode: no web UI to bind a port, few shuffle partitions (the aggregates are small), Arrow
# between the JVM and Python, and timestamps that do not depend on the machine's zone.
_LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    # The schema checks become one large generated method per row; without this flag the JIT
    # leaves methods over 8000 bytecodes interpreted (3.4 s instead of 0.3 s for 300k rows).
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR -XX:-DontCompileHugeMethods",
    "spark.executor.extraJavaOptions": "-XX:-DontCompileHugeMethods",
}


def spark_session(master: str = "", remote: str = "") -> Any:
    """The Spark session: Spark Connect at ``remote`` (``SPARK_REMOTE``), else ``master``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the spark engine needs pyspark: pip install '.[spark]' (local mode, Java 17) or "
            "'.[spark-connect]' (a cluster through SPARK_REMOTE); or use --engine pandas"
        ) from None
    try:
        if remote:
            return SparkSession.builder.remote(remote).appName("driftgate").getOrCreate()
        builder = SparkSession.builder.master(master or "local[*]").appName("driftgate")
        # Spark's Python workers must be this interpreter, with the model's libraries.
        builder = builder.config("spark.pyspark.python", sys.executable)
        for key, value in _LOCAL_CONF.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - no Java, a bad master URL, an unreachable cluster
        where = remote or master or "local[*]"
        raise ConfigError(f"Spark did not start at {where}: {first_line(exc)}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_dataset(spark: Any, source: Path | str, remote: bool = False) -> Any:
    """A CSV or Parquet file, or a folder of Parquet parts, as a Spark DataFrame.

    ``remote``: a Spark Connect session, whose cluster cannot read files on this machine.
    """
    location = dataset_location(source)
    local = location == str(source)
    if local and remote:
        raise DataError(
            f"{location} is on this machine, which a Spark Connect cluster cannot read: give "
            "the batch as a URI the cluster reads (s3://, gs://, abfss://, dbfs:/)"
        )
    if local:
        path = Path(location)
        if not path.exists():
            raise DataError(f"{path} does not exist")
        if path.is_dir():
            if not parquet_parts(path):
                raise DataError(f"{path} is a folder without Parquet parts, not a batch")
            suffix = ".parquet"
        else:
            suffix = path.suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv or .parquet)")
            if suffix == ".csv":
                check_csv_header(path)
    else:
        suffix = ".csv" if location.lower().endswith(".csv") else ".parquet"
    kind = "CSV" if suffix == ".csv" else "Parquet"
    readable = literal_path(location) if local else location
    try:
        if suffix == ".csv":
            # Every value as text, as pandas would read it before the schema's coercion.
            frame = (
                spark.read.option("header", "true")
                .option("encoding", "UTF-8")
                .option("multiLine", "true")
                .option("escape", '"')
                .csv(readable)
            )
            first = frame.columns[0] if frame.columns else ""
            if first.startswith("\ufeff"):
                frame = frame.withColumnRenamed(first, first.lstrip("\ufeff"))
            return frame
        return spark.read.parquet(readable)
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException and friends
        raise DataError(f"{location} is not a readable {kind} dataset: {first_line(exc)}") from None


def literal_path(path: str) -> str:
    """``path`` with Hadoop's glob characters escaped: Spark reads "[1]" in a name as a glob."""
    return re.sub(r"([\[\]{}*?\\])", r"\\\1", path)


@dataclass
class CheckedDataset:
    """A batch after the schema's checks, in Spark: the frame and its counts."""

    frame: Any  # columns coerced as the schema says, plus PROBLEM (null: row accepted)
    rows: int
    rejected_rows: int
    rejection_reasons: dict[str, int]
    labelled_rows: int
    missing_counts: dict[str, int]
    extra_columns: list[str] = field(default_factory=list)

    @property
    def has_labels(self) -> bool:
        return self.labelled_rows > 0


def check_dataset(
    frame: Any,
    config: ModelConfig,
    source: str,
    carry: tuple[str, ...] = (),
    count: bool = True,
) -> CheckedDataset:
    """The schema's checks as Spark expressions, counted in one pass over the batch.

    Batch-level problems raise the ``DataError`` the pandas engine raises for them (the Spark
    message names a count instead of a row number: rows have no order in a dataset).
    ``carry`` names columns of ours to keep as they are (not the batch's extra columns).
    ``count=False`` only coerces (a sample of a batch already counted): no pass over the data.
    """
    from pyspark.sql import functions as F

    columns = [c for c in frame.columns if c not in carry]
    require_features(config, columns, source)
    known = {c.name for c in config.columns}
    extra = [c for c in columns if c not in known]

    values: dict[str, Any] = {}
    missing: dict[str, Any] = {}  # what the rows are rejected for ("missing X")
    null: dict[str, Any] = {}  # what missing rates count (a blank text is a value there)
    fatal: list[tuple[ColumnSpec, str, Any]] = []  # (column, problem, rows with it)
    for spec in config.columns:
        if spec.name not in columns or spec.role == "target":
            continue
        original = F.col(_quoted(spec.name))
        dtype = frame.schema[spec.name].dataType.typeName()
        if spec.kind == "numeric":
            if dtype == "boolean":
                raise booleans_not_numeric(spec.name, source)
            numeric = dtype in _NUMERIC_TYPES
            value = original.cast("double") if numeric else original.try_cast("double")
            if not numeric:
                fatal.append((spec, "numeric", value.isNull() & original.isNotNull()))
            null[spec.name] = value.isNull() | F.isnan(value)
            missing[spec.name] = null[spec.name]
        elif spec.kind == "text":
            value = original.cast("string")
            null[spec.name] = value.isNull()
            missing[spec.name] = value.isNull() | value.rlike(r"(?U)^\s*$")
        else:
            value = _level_text(original, dtype)
            fatal.append((spec, "level", value.isNotNull() & ~value.isin(list(spec.levels))))
            null[spec.name] = value.isNull()
            missing[spec.name] = null[spec.name]
        values[spec.name] = value

    target = None
    if config.target in columns:
        target = _level_text(F.col(_quoted(config.target)), frame.schema[config.target].dataType)
        levels = list(config.column(config.target).levels)
        fatal.append(
            (config.column(config.target), "label", target.isNotNull() & ~target.isin(levels))
        )

    # A row's first failing check, as its index in ``reasons`` (null: the row is accepted).
    reasons = list(dict.fromkeys(check.reason for check in row_checks(config)))
    problems = []
    for check in row_checks(config):
        value = values[check.column]
        if check.check == "missing":
            hit = missing[check.column]
        elif check.check == "range":
            hit = ~missing[check.column] & ((value < check.low) | (value > check.high))
        elif check.check == "whole":
            hit = ~missing[check.column] & (F.pmod(value, F.lit(1.0)) != 0)
        else:
            hit = ~missing[check.column] & (F.length(value) > check.high)
        problems.append(F.when(hit, F.lit(reasons.index(check.reason))))
    problem = F.coalesce(*problems) if problems else F.lit(None).cast("int")

    checked = frame.select(
        *[value.alias(name) for name, value in values.items()],
        *([target.alias(config.target)] if target is not None else []),
        problem.alias(PROBLEM),
        *carry,
    )
    if not count:
        return CheckedDataset(checked, 0, 0, {}, 0, {}, extra)
    # One pass: grouped by the problem, each row's checks are computed once (one sum per
    # reason over the row-level expression made Spark generate, and compile, a huge method).
    flags = frame.select(
        problem.alias(PROBLEM),
        *[hit.cast("long").alias(f"fatal_{i}") for i, (_, _, hit) in enumerate(fatal)],
        *[null[n].cast("long").alias(f"null_{i}") for i, n in enumerate(values)],
        (target.isNotNull() if target is not None else F.lit(False)).cast("long").alias("label"),
    )
    sums = [c for c in flags.columns if c != PROBLEM]
    groups = (
        flags.groupBy(PROBLEM)
        .agg(F.count(F.lit(1)).alias("rows"), *[F.sum(c).alias(c) for c in sums])
        .collect()
    )
    counts = {key: sum(int(g[key] or 0) for g in groups) for key in ["rows", *sums]}
    rows = counts["rows"]
    if rows == 0:
        raise DataError(f"{source} has no rows")
    for i, (spec, kind, hit) in enumerate(fatal):
        bad = counts[f"fatal_{i}"]
        if bad:
            raise _fatal_error(frame, spec, kind, hit, bad, source, config)
    null_counts = {n: counts[f"null_{i}"] for i, n in enumerate(values)}
    for name in config.features:
        if null_counts[name] == rows:
            raise empty_column(name, source)
    reason_counts = {
        reasons[int(g[PROBLEM])]: int(g["rows"]) for g in groups if g[PROBLEM] is not None
    }
    return CheckedDataset(
        frame=checked,
        rows=rows,
        rejected_rows=sum(reason_counts.values()),
        rejection_reasons=dict(sorted(reason_counts.items(), key=lambda kv: -kv[1])),
        labelled_rows=counts["label"],
        missing_counts=null_counts,
        extra_columns=extra,
    )


_NUMERIC_TYPES = {"byte", "short", "integer", "long", "float", "double", "decimal"}


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _level_text(column: Any, dtype: Any) -> Any:
    """A level as the schema spells it: 1.0 read from a file is the level "1", as in pandas."""
    from pyspark.sql import functions as F

    kind = dtype if isinstance(dtype, str) else dtype.typeName()
    if kind in ("float", "double"):
        whole = column.isNotNull() & ~F.isnan(column) & (F.floor(column) == column)
        return F.when(F.isnan(column), F.lit(None).cast("string")).otherwise(
            F.when(whole, column.cast("long").cast("string")).otherwise(column.cast("string"))
        )
    if kind == "boolean":
        return F.when(column, F.lit("True")).when(~column, F.lit("False"))
    return column.cast("string")


def _fatal_error(
    frame: Any, spec: ColumnSpec, kind: str, hit: Any, bad: int, source: str, config: ModelConfig
) -> DataError:
    """The pandas engine's error for the problem, with examples fetched from Spark."""
    from pyspark.sql import functions as F

    if kind == "numeric":
        value = frame.filter(hit).select(F.col(_quoted(spec.name))).limit(1).collect()[0][0]
        return not_numeric(spec.name, source, value, f"{bad} rows")
    dtype = frame.schema[spec.name].dataType
    text = _level_text(F.col(_quoted(spec.name)), dtype)
    shown = sorted(row[0] for row in frame.filter(hit).select(text).distinct().limit(50).collect())
    if kind == "label":
        return unknown_labels(config, source, shown)
    return unseen_levels(spec.name, source, shown, bad)


class SparkEngine:
    """Scores and samples batches on Spark (``pipeline.model.engine.Engine``)."""

    name = "spark"

    def __init__(self, master: str = "", predictions_uri: str = "", remote: str = "") -> None:
        self.master = master
        self.predictions_uri = predictions_uri
        self.remote = remote  # Spark Connect's URL (SPARK_REMOTE): the cluster reads and writes

    def predict(
        self,
        model: ScoringModel,
        config: ModelConfig,
        source: Path,
        out_dir: Path,
        recorded_source: str | None = None,
    ) -> PredictionSummary:
        with _spark_errors(dataset_location(source)):
            return self._predict(model, config, source, out_dir, recorded_source)

    def sample(self, config: ModelConfig, source: Path, rows: int, seed: int) -> ValidatedBatch:
        """Counts over the whole dataset in Spark; a uniform sample of ``rows`` rows to pandas,
        in batch order."""
        with _spark_errors(dataset_location(source)):
            return self._sample(config, source, rows, seed)

    def _predict(
        self,
        model: ScoringModel,
        config: ModelConfig,
        source: Path,
        out_dir: Path,
        recorded_source: str | None,
    ) -> PredictionSummary:
        from pyspark.sql import functions as F

        started = time.perf_counter()
        spark = spark_session(self.master, self.remote)
        name = dataset_location(source)
        checked = check_dataset(read_dataset(spark, source, bool(self.remote)), config, name)
        score = _score_udf(spark, model)
        features = F.struct(*[F.col(_quoted(n)) for n in config.features])
        accepted = checked.frame.filter(F.col(PROBLEM).isNull()).withColumn(
            "score", score(features).getItem(1)
        )
        accepted = accepted.withColumn("predicted", F.col("score") >= config.decision_threshold)
        rejected = (
            checked.frame.filter(F.col(PROBLEM).isNotNull())
            .withColumn("score", F.lit(None).cast("double"))
            .withColumn("predicted", F.lit(None).cast("boolean"))
        )
        ids = [c.name for c in config.columns_with_role("id") if c.name in checked.frame.columns]
        labels = [config.target] if config.target in checked.frame.columns else []
        kept = [*ids, "score", "predicted", *labels]
        predictions = accepted.select(*kept).unionByName(rejected.select(*kept))
        with staged_outputs(out_dir) as outputs:
            if self.remote:
                # The cluster writes where it can; predict.json, here, names the place.
                if not self.predictions_uri:
                    raise ConfigError(
                        "with SPARK_REMOTE set, spark_predictions_uri must name where the "
                        "cluster writes predictions (PIPELINE_SPARK_PREDICTIONS_URI=s3://...)"
                    )
                where = "/".join(
                    (self.predictions_uri.rstrip("/"), config.name, out_dir.name, PREDICTIONS_FILE)
                )
            else:
                where = str(outputs.folder(PREDICTIONS_FILE))
            predictions.write.mode("overwrite").parquet(where)
            readable = where if self.remote else literal_path(where)
            stats = _score_stats(spark, readable, config.decision_threshold)
            seconds = time.perf_counter() - started
            summary = PredictionSummary(
                model=config.name,
                model_version=model.version,
                run_id=model.run_id,
                source=recorded_source or name,
                rows=checked.rows,
                scored_rows=stats.count,
                rejected_rows=checked.rejected_rows,
                positive_rate=stats.positives / stats.count if stats.count else None,
                mean_score=stats.total / stats.count if stats.count else None,
                score_quantiles=stats.quantiles(),
                rows_per_second=round(checked.rows / seconds, 1) if seconds > 0 else 0.0,
                seconds=round(seconds, 3),
                chunk_rows=0,
                labelled_rows=checked.labelled_rows,
                rejection_reasons=checked.rejection_reasons,
                extra_columns=checked.extra_columns,
                missing_rates={
                    n: round(c / checked.rows, 4)
                    for n, c in checked.missing_counts.items()
                    if c and n in config.features
                },
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                engine=self.name,
                predictions_file=where if self.remote else PREDICTIONS_FILE,
            )
            outputs.write_json(SUMMARY_FILE, summary)
        return summary

    def _sample(self, config: ModelConfig, source: Path, rows: int, seed: int) -> ValidatedBatch:
        from pyspark.sql import functions as F

        spark = spark_session(self.master, self.remote)
        name = dataset_location(source)
        frame = read_dataset(spark, source, bool(self.remote))
        # Counted without the row positions: asking Parquet for them made this pass 6x slower.
        checked = check_dataset(frame, config, name)
        # Parquet knows each row's index in its file; a CSV file is read whole by one task,
        # in which Spark's increasing ids follow the file's order.
        meta = frame.select("_metadata").schema[0].dataType.fieldNames()
        row = F.col("_metadata.row_index") if "row_index" in meta else None
        positions = (FILE_POSITION, ROW_POSITION)
        # A Bernoulli sample of the raw rows a little larger than wanted (before the schema's
        # coercion, which then runs on the sample only), then exactly ``rows`` of it by a
        # random key: a scan and a small sort, not a sort of the batch.
        fraction = min(1.0, (rows * 1.1 + 100) / checked.rows)
        raw = frame if fraction >= 1.0 else frame.sample(False, fraction, seed)
        raw = raw.withColumn(FILE_POSITION, F.col("_metadata.file_path")).withColumn(
            ROW_POSITION, row if row is not None else F.monotonically_increasing_id()
        )
        drawn = check_dataset(raw, config, name, carry=positions, count=False)
        picked = drawn.frame.drop(PROBLEM).orderBy(F.rand(seed)).limit(rows).toPandas()
        picked = picked.sort_values(list(positions), kind="stable").drop(columns=list(positions))
        sample = validate_batch(picked.reset_index(drop=True), config, name, whole_batch=False)
        rates = {n: c / checked.rows for n, c in checked.missing_counts.items()}
        sample.rejected_rows = checked.rejected_rows
        sample.rejection_reasons = checked.rejection_reasons
        sample.extra_columns = checked.extra_columns
        sample.has_labels = checked.has_labels
        sample.population = Population(
            rows=checked.rows, labelled_rows=checked.labelled_rows, missing_rates=rates
        )
        return sample


def _score_udf(spark: Any, model: ScoringModel) -> Any:
    """The champion as a Spark UDF returning ``predict_proba``'s row: [P(other), P(positive)]."""
    import mlflow
    from mlflow.models import get_model_info
    from pyspark.sql.types import ArrayType, DoubleType

    try:
        flavour = get_model_info(model.uri).flavors.get("python_function", {})
    except Exception as exc:  # noqa: BLE001
        raise RegistryError(f"could not read {model.uri}: {first_line(exc)}") from exc
    if flavour.get("predict_fn") != "predict_proba":
        raise RegistryError(
            f"{model.uri} (version {model.version}) was logged before its pyfunc returned "
            "scores; retrain it (pipeline train) or score it with --engine pandas"
        )
    try:
        return mlflow.pyfunc.spark_udf(
            spark, model.uri, result_type=ArrayType(DoubleType()), env_manager="local"
        )
    except Exception as exc:  # noqa: BLE001 - MLflow's and Spark's errors alike
        raise RegistryError(
            f"could not load {model.uri} as a Spark UDF: {first_line(exc)}"
        ) from exc


def _score_stats(spark: Any, folder: str, threshold: float) -> ScoreStats:
    """Count, mean, positives and the quantile histogram of the written scores, in Spark."""
    from pyspark.sql import functions as F

    scores = spark.read.parquet(folder).filter(F.col("score").isNotNull())
    bins = scores.groupBy(F.floor(F.col("score") * HISTOGRAM_BINS).alias("bin")).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum("score").alias("total"),
        F.sum((F.col("score") >= threshold).cast("long")).alias("positives"),
    )
    stats = ScoreStats()
    collected = bins.collect()
    stats.add_histogram(
        {int(row["bin"]): int(row["rows"]) for row in collected},
        total=float(sum(row["total"] for row in collected)),
        positives=int(sum(row["positives"] for row in collected)),
    )
    return stats


@contextmanager
def _spark_errors(name: str) -> Iterator[None]:
    """A Spark job's failure (a corrupt part, a worker's Python error) as one line naming the
    batch; Driftgate's own errors pass as they are."""
    try:
        yield
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - Spark wraps worker errors in JVM exceptions
        if type(exc).__module__.split(".")[0] not in ("pyspark", "py4j"):
            raise
        raise DataError(f"Spark failed on {name}: {_worker_error(exc)}") from None


def _worker_error(exc: BaseException) -> str:
    """The Python error a Spark worker raised, out of the JVM's stack trace around it."""
    text = str(exc)
    found = re.findall(r"^(\w+(?:Error|Exception): .+)$", text, flags=re.MULTILINE)
    return found[-1] if found else first_line(exc)
