"""The prediction log on both stores: each record one row, in order, with its score, class and
shadow score exactly as handed in; read back as the records that were sent."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.edges.predlog import LoggedRequest, PredictionLog

_RECORDS = [
    {"Age": 41, "Department": "Sales", "note": 'a "quoted" value, with \' and \\ and é'},
    {"Age": 29.5, "Department": None, "nested": {"k": [1, 2.25, None]}},
    {"Department": "R&D", "Age": -0.0, "text": "a tab\there, a line\nthere, \\N"},
]


def _request(request_id: str, shadow: bool) -> LoggedRequest:
    return LoggedRequest(
        model="attrition",
        model_version=3,
        request_id=request_id,
        features=[json.dumps(record, separators=(",", ":")) for record in _RECORDS],
        scores=[0.123456, 0.5, 1.0],
        predicted=[False, True, True],
        shadow_version=4 if shadow else None,
        shadow_scores=[0.25, None, 0.75] if shadow else None,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'log.db'}"


def _rows(log: PredictionLog) -> list[Any]:
    import sqlalchemy as sa

    with log._engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT model, model_version, request_id, features, score, predicted, "
                    "shadow_version, shadow_score FROM prediction_log ORDER BY id"
                )
            ).all()
        )


def test_every_record_is_one_row_in_order_with_its_own_values(log_url: str) -> None:
    log = PredictionLog(log_url)
    try:
        assert log.append_requests([_request("first", False), _request("second", True)]) == 6
        rows = _rows(log)
        frame = log.window("attrition", days=1)
    finally:
        log.close()
    assert [(r.request_id, json.loads(r.features)) for r in rows] == [
        (rid, record) for rid in ("first", "second") for record in _RECORDS
    ]
    # Each record's text as it was handed in, escapes and all (PostgreSQL's COPY unescapes).
    assert [r.features for r in rows] == _request("any", False).features * 2
    assert [(r.score, bool(r.predicted)) for r in rows] == [
        (0.123456, False),
        (0.5, True),
        (1.0, True),
    ] * 2
    assert [(r.shadow_version, r.shadow_score) for r in rows] == [(None, None)] * 3 + [
        (4, 0.25),
        (4, None),
        (4, 0.75),
    ]
    assert {(r.model, r.model_version) for r in rows} == {("attrition", 3)}
    assert frame["Department"].tolist()[:3] == ["Sales", None, "R&D"]


def test_nothing_to_log_writes_nothing(log_url: str) -> None:
    log = PredictionLog(log_url)
    try:
        assert log.append_requests([]) == 0
        assert log.count() == 0
    finally:
        log.close()


def test_sqlite_writes_reach_the_database_file_while_the_log_is_open(tmp_path: Path) -> None:
    """A thread checkpoints the WAL off the writer's path: the database file alone (copied
    without its WAL) soon holds every row, though SQLite's own checkpoint would wait for 64 MB.
    """
    path = tmp_path / "log.db"
    log = PredictionLog(f"sqlite:///{path}")
    try:
        log.append_requests([_request(f"r{i}", False) for i in range(50)])
        deadline, rows = time.monotonic() + 10, None
        while time.monotonic() < deadline and rows != (150,):
            time.sleep(0.1)
            shutil.copyfile(path, tmp_path / "copy.db")
            with sqlite3.connect(tmp_path / "copy.db") as connection:
                try:
                    rows = connection.execute("SELECT count(*) FROM prediction_log").fetchone()
                except sqlite3.OperationalError:  # not even the table is in the file yet
                    rows = None
        assert rows == (150,)
    finally:
        log.close()


def test_postgresql_writes_on_a_held_connection_replaced_when_the_server_closed_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes back to back share one connection and ping nothing; after the server closed it
    while it sat idle, the next write pings it, finds it gone and writes on a new one."""
    import sqlalchemy as sa

    import pipeline.edges.predlog as predlog

    log = PredictionLog(postgres_url)
    pings: list[object] = []
    ping = log._engine.dialect.do_ping
    monkeypatch.setattr(log._engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    try:
        backends = set()
        for i in range(5):
            log.append_requests([_request(f"r{i}", False)])
            backends.add(log._copy_connection.driver_connection.get_backend_pid())
            if i == 0:
                pings.clear()  # the pool's own check of the connection it handed out
        assert len(backends) == 1 and pings == []
        admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backends.pop()}
            )
        admin.dispose()
        monkeypatch.setattr(predlog, "_PING_AFTER_IDLE_SECONDS", 0.0)
        assert log.append_requests([_request("after", False)]) == 3
        assert pings[0] is not None  # the closed connection was pinged, then replaced
        assert log.count() == 18
    finally:
        log.close()


def test_scores_as_numpy_floats_or_integers_are_written_as_numbers(log_url: str) -> None:
    import numpy as np

    log = PredictionLog(log_url)
    request = _request("numbers", False)
    # numpy's float64 is a float whose repr is not a number's text; an int is a float's value.
    request.scores = [np.float64(0.25), 1, np.float64(0.5)]
    try:
        log.append_requests([request])
        assert [r.score for r in _rows(log)] == [0.25, 1.0, 0.5]
    finally:
        log.close()


def test_postgresql_closes_cleanly_after_the_server_closed_its_connection(
    postgres_url: str,
) -> None:
    import sqlalchemy as sa

    log = PredictionLog(postgres_url)
    log.append_requests([_request("before", False)])
    backend = log._copy_connection.driver_connection.get_backend_pid()
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    admin.dispose()
    log.close()  # raises nothing
    assert log._copy_connection is None
