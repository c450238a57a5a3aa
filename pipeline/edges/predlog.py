"""The prediction log: every record the API scored, with its score and the model version.

One SQL table through SQLAlchemy (already installed with MLflow): SQLite by default, PostgreSQL
(or any SQLAlchemy URL) when ``DATABASE_URL`` says so. ``pipeline drift --from-log`` reads a
window of it back as a batch, so the drift of what the API saw is checked like a monthly batch.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings
from pipeline.errors import DataError, PipelineError, first_line

if TYPE_CHECKING:
    import pandas as pd

TABLE = "prediction_log"

log = logging.getLogger("pipeline.edges.predlog")

# SQLite's write-ahead log is copied back into the database file by a thread of its own, at
# most this often, rather than by the API's writes: a checkpoint inside a commit took up to
# 28 ms (an fsync), and every answer of that batch waited for it.
_CHECKPOINT_SECONDS = 0.5
# SQLite's own checkpoint in the committing connection, kept as a safety net: it runs only when
# the WAL outgrows 16,384 pages (64 MB), which the thread's checkpoints keep it from.
_AUTOCHECKPOINT_PAGES = 16384


class PredictionLogError(PipelineError):
    exit_code = 7


@dataclass
class LoggedRequest:
    """One answered request's records, scores and predicted classes, for the log."""

    model: str
    model_version: int
    request_id: str
    # Each record as a JSON object's text (the API's reader writes them with orjson).
    features: list[str]
    scores: list[float | None]
    predicted: list[bool | None]
    # The kept challenger's scores of the same records (``serve_shadow``), or None.
    shadow_version: int | None = None
    shadow_scores: list[float | None] | None = None


# Rows per INSERT: 64 x 9 parameters stay under SQLite's oldest limit of 999.
_ROWS_PER_STATEMENT = 64

# The columns every row is written with, in the order ``append_requests`` builds its tuples.
_COLUMNS = (
    "created_at",
    "model",
    "model_version",
    "request_id",
    "features",
    "score",
    "predicted",
    "shadow_version",
    "shadow_score",
)

# PostgreSQL takes the rows as COPY's text format: one line per record, tab between the values,
# \N for a missing one, and a backslash, tab or line break inside a value escaped.
_COPY = f"COPY {TABLE} ({', '.join(_COLUMNS)}) FROM STDIN"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# The writes' held connection, unused this long, is pinged before use (the server may have
# closed it meanwhile).
_PING_AFTER_IDLE_SECONDS = 1.0

# Added after the first release: a log created before them gets them on open (nullable).
_LATER_COLUMNS = {"shadow_version": "INTEGER", "shadow_score": "FLOAT"}


class PredictionLog:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        sqlite = url.startswith("sqlite")
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            connect_args: dict[str, Any] = {}
            if sqlite:
                connect_args = {"timeout": 30, "check_same_thread": False}
            elif sa.engine.make_url(url).get_driver_name() in ("psycopg2", "psycopg"):
                # The promise SQLite's WAL with synchronous=NORMAL makes (below): a commit
                # survives the API being killed, not the server losing power. Without it every
                # batch waited for PostgreSQL's flush to disk: 2 to 3 ms on this machine's disk.
                connect_args = {"options": "-c synchronous_commit=off"}
            self._engine = sa.create_engine(
                url, connect_args=connect_args, pool_pre_ping=not sqlite
            )
            if sqlite:
                sa.event.listen(self._engine, "connect", _sqlite_pragmas)
            metadata = sa.MetaData()
            self._table = sa.Table(
                TABLE,
                metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
                sa.Column("model", sa.String(100), nullable=False, index=True),
                sa.Column("model_version", sa.Integer, nullable=False),
                sa.Column("request_id", sa.String(64), nullable=False),
                sa.Column("features", sa.Text, nullable=False),
                sa.Column("score", sa.Float, nullable=True),
                sa.Column("predicted", sa.Boolean, nullable=True),
                sa.Column("shadow_version", sa.Integer, nullable=True),
                sa.Column("shadow_score", sa.Float, nullable=True),
            )
            metadata.create_all(self._engine)
            self._add_later_columns()
            self._insert_sql, self._row_sql = _insert_sql(self._engine.dialect)
            # created_at as the driver takes it (SQLite: SQLAlchemy's text form), once per batch.
            dialect = self._engine.dialect
            self._as_driver_time = self._table.c.created_at.type.dialect_impl(
                dialect
            ).bind_processor(dialect)
            self._statements: dict[int, str] = {}
        except Exception as exc:  # noqa: BLE001 - a bad URL or unreachable database: one line
            raise PredictionLogError(
                f"prediction log at {_redacted(url)} is not usable: {first_line(exc)}"
            ) from exc
        # SQLite takes one writer at a time anyway: serialise writes here rather than let
        # concurrent requests fail with "database is locked".
        self._write_lock = threading.Lock() if sqlite else None
        self._checkpointer: _Checkpointer | None = None
        # PostgreSQL: the connection the writes COPY through, held between them (see _copy).
        self._copy_lock = threading.Lock()
        self._copy_connection: Any = None
        self._copy_used = 0.0

    def append_requests(self, requests: list[LoggedRequest]) -> int:
        """Append several requests' records in one transaction (all or none); the rows written.

        The API's micro-batches log this way: one commit per batch, not one per request.
        """
        requests = [request for request in requests if request.features]
        if not requests:
            return 0
        now = datetime.now(timezone.utc)
        created_at = self._as_driver_time(now) if self._as_driver_time else now
        try:
            if self._engine.dialect.driver == "psycopg2":
                self._copy(now, requests)
            elif self._write_lock is None:
                self._insert(_rows(created_at, requests))
            else:
                rows = _rows(created_at, requests)
                with self._write_lock:
                    self._insert(rows)
                    if self._checkpointer is None:
                        self._checkpointer = _Checkpointer(self._engine)
                self._checkpointer.written()
        except Exception as exc:  # noqa: BLE001
            raise PredictionLogError(
                f"writing to the prediction log at {_redacted(self.url)} failed: {first_line(exc)}"
            ) from exc
        return sum(len(request.features) for request in requests)

    def _add_later_columns(self) -> None:
        import sqlalchemy as sa

        have = {c["name"] for c in sa.inspect(self._engine).get_columns(TABLE)}
        with self._engine.begin() as connection:
            for name, kind in _LATER_COLUMNS.items():
                if name not in have:
                    connection.execute(sa.text(f"ALTER TABLE {TABLE} ADD COLUMN {name} {kind}"))

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """The rows handed to the driver as they are, in one transaction.

        Through SQLAlchemy's ``insert()`` each row's every value went through its parameter
        handling: with 100-record requests that was half the time the API spent per record.
        The one value that needs a conversion (``created_at``) is converted once per batch.

        Many rows go in one statement, not one statement per row (``executemany``): the
        driver lets go of the GIL around each statement it runs, and under load the API's
        event loop took it each time, so a row waited for the loop's next switch. 800 rows
        took 0.84 s that way beside a busy thread, 15 ms as statements of 64 rows.
        """
        with self._engine.begin() as connection:
            cursor = connection.connection.cursor()
            try:
                for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[start : start + _ROWS_PER_STATEMENT]
                    cursor.execute(self._values_sql(len(chunk)), list(chain.from_iterable(chunk)))
            finally:
                cursor.close()

    def _copy(self, now: datetime, requests: list[LoggedRequest]) -> None:
        """PostgreSQL: every request's rows in one ``COPY``, written by this process as text.

        PostgreSQL's own work is most of a logged record's cost on PostgreSQL, and it runs on
        the same cores as the API. Per 800 rows (8 requests of 100 records) its backend spent
        13.95 ms of CPU on a COPY against 23.50 ms on the INSERT ... SELECT that made the rows
        from JSON arrays, which this replaced; building the text costs this process about 1 ms.
        """
        text = "".join(chain.from_iterable(_copy_lines(now, request) for request in requests))
        with self._copy_lock:
            connection = self._held_copy_connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.copy_expert(_COPY, io.StringIO(text), size=max(len(text), 8192))
                finally:
                    cursor.close()
            except Exception:
                self._drop_copy_connection(broken=True)
                raise
            self._copy_used = time.monotonic()

    def _held_copy_connection(self) -> Any:
        """The writes' own connection, in autocommit: one COPY is atomic by itself.

        Taking a pooled connection and a transaction for every batch cost the API 0.5 ms of a
        one-record write against 0.19 ms for the COPY alone on a held connection (BEGIN,
        COMMIT, the pool's ping and its checkout and checkin). A connection idle for a second
        or more is pinged first, and replaced if the server closed it meanwhile.
        """
        held = self._copy_connection
        if held is not None and time.monotonic() - self._copy_used >= _PING_AFTER_IDLE_SECONDS:
            try:
                self._engine.dialect.do_ping(held.driver_connection)
            except Exception:  # noqa: BLE001 - closed by the server: take a new one
                self._drop_copy_connection(broken=True)
                held = None
        if held is None:
            fresh: Any = self._engine.raw_connection()
            fresh.driver_connection.autocommit = True
            self._copy_connection = held = fresh
        return held

    def _drop_copy_connection(self, broken: bool) -> None:
        held, self._copy_connection = self._copy_connection, None
        if held is None:
            return
        if broken:
            held.invalidate()  # closed, not given back to the pool
        else:
            held.driver_connection.autocommit = False
            held.close()  # back to the pool

    def _values_sql(self, rows: int) -> str:
        """The INSERT of ``rows`` rows (kept: the driver caches statements by their text)."""
        sql = self._statements.get(rows)
        if sql is None:
            sql = self._statements[rows] = self._insert_sql + ", ".join([self._row_sql] * rows)
        return sql

    def count(self, model: str | None = None) -> int:
        import sqlalchemy as sa

        query = sa.select(sa.func.count()).select_from(self._table)
        if model is not None:
            query = query.where(self._table.c.model == model)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def window(self, model: str, days: float, now: datetime | None = None) -> pd.DataFrame:
        """The records logged for ``model`` in the last ``days`` days, as a batch frame."""
        import pandas as pd
        import sqlalchemy as sa

        since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
        table = self._table
        query = (
            sa.select(table.c.features, table.c.score, table.c.model_version)
            .where(table.c.model == model, table.c.created_at >= since)
            .order_by(table.c.id)
        )
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except Exception as exc:  # noqa: BLE001
            raise PredictionLogError(
                f"reading the prediction log at {_redacted(self.url)} failed: {first_line(exc)}"
            ) from exc
        if not rows:
            raise DataError(
                f"the prediction log at {_redacted(self.url)} has no predictions of model "
                f"'{model}' in the last {days:g} day(s)"
            )
        return pd.DataFrame([json.loads(row.features) for row in rows])

    def close(self) -> None:
        with self._copy_lock:
            self._drop_copy_connection(broken=False)
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._engine.dispose()


def _copy_lines(now: datetime, request: LoggedRequest) -> list[str]:
    """One request's rows as lines of COPY's text format, in ``_COLUMNS``' order."""
    head = "\t".join(
        (
            now.isoformat(),
            _copy_value(request.model),
            str(request.model_version),
            _copy_value(request.request_id),
            "",
        )
    )
    # A record's JSON holds a backslash only where orjson escaped a character, never a raw
    # tab or line break; the check keeps the translation off the records that need none.
    features = [_copy_value(f) if "\\" in f else f for f in request.features]
    predicted = ["\\N" if p is None else ("t" if p else "f") for p in request.predicted]
    scores = [_copy_float(score) for score in request.scores]
    if request.shadow_scores is None:
        shadow = ["\\N\t\\N\n"] * len(features)
    else:
        version = str(request.shadow_version)
        shadow = [f"{version}\t{_copy_float(s)}\n" for s in request.shadow_scores]
    return [
        f"{head}{f}\t{s}\t{p}\t{w}"
        for f, s, p, w in zip(features, scores, predicted, shadow, strict=True)
    ]


def _copy_value(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _copy_float(value: float | None) -> str:
    # As a Python float first: its repr is the shortest text that reads back as the same
    # double (numpy's float64 prints as "np.float64(...)"), and PostgreSQL reads nan and inf.
    return "\\N" if value is None else repr(float(value))


def _rows(created_at: Any, requests: list[LoggedRequest]) -> list[tuple[Any, ...]]:
    """One tuple per record, in ``_COLUMNS``' order."""
    return [
        (
            created_at,
            request.model,
            request.model_version,
            request.request_id,
            features,
            score,
            flag,
            request.shadow_version,
            shadow,
        )
        for request in requests
        for features, score, flag, shadow in zip(
            request.features,
            request.scores,
            request.predicted,
            request.shadow_scores or [None] * len(request.features),
        )
    ]


class _Checkpointer:
    """A thread that checkpoints a SQLite log's WAL after writes, off the writers' path.

    A PASSIVE checkpoint neither waits for nor blocks the writer; it copies what is committed
    and runs without the GIL. One more runs when the log is closed.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="predlog-checkpoint", daemon=True)
        self._thread.start()

    def written(self) -> None:
        self._written.set()

    def stop(self) -> None:
        self._stopping.set()
        self._written.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._written.wait()
            self._stopping.wait(_CHECKPOINT_SECONDS)  # what is written meanwhile goes too
            self._written.clear()
            try:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # noqa: BLE001 - SQLite's own checkpoint still runs
                log.warning("checkpointing the prediction log failed: %s", first_line(exc))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the drift command read while the API writes; NORMAL sync is durable in WAL mode
    # across application crashes, which is what the log needs.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def _insert_sql(dialect: Any) -> tuple[str, str]:
    """``INSERT INTO ... VALUES `` and one row's parameters in the driver's style (PEP 249)."""
    insert = f"INSERT INTO {TABLE} ({', '.join(_COLUMNS)}) VALUES "
    if dialect.paramstyle == "qmark":
        placeholder = "?"
    elif dialect.paramstyle in ("format", "pyformat"):
        placeholder = "%s"
    else:
        raise PredictionLogError(
            f"the prediction log cannot write through {dialect.driver} "
            f"({dialect.paramstyle} parameters): use SQLite or PostgreSQL with psycopg2"
        )
    return insert, f"({', '.join([placeholder] * len(_COLUMNS))})"


def _redacted(url: str) -> str:
    """The URL without its password: it ends up in logs and error messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))


def write_window(settings: Settings, config: ModelConfig, days: float, out: Path) -> Path:
    """Write the last ``days`` days of the log as a batch file, for ``pipeline drift``."""
    from pipeline.model.data import write_frame
    from pipeline.results import staged_outputs

    prediction_log = PredictionLog(settings.prediction_log)
    try:
        frame = prediction_log.window(config.name, days)
    finally:
        prediction_log.close()
    with staged_outputs(out.parent) as outputs:
        write_frame(outputs, out.name, frame)
    return out
