"""``pipeline serve``: the champion behind an HTTP API, with every prediction logged.

``POST /predict`` validates records against the model's schema (422 naming the column),
scores them with the champion and appends them to the prediction log before answering.
``GET /model``, ``GET /drift`` and ``GET /health`` describe what is served. A watcher thread
polls the registry's ``champion`` alias and swaps a newly promoted version in without a
restart; requests in flight finish on the model they started with.

It scores and logs personal data: with ``PIPELINE_API_TOKEN`` set, every endpoint but
``/health`` asks for ``Authorization: Bearer <token>``; without it the API binds 127.0.0.1
only. Requests beyond ``serve_max_records`` records or ``serve_max_body_mb`` get a 413, and
no record value is ever written to the server's log.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

# At module level: FastAPI resolves the endpoint's ``request: Request`` in this module's names.
from fastapi import Request

from pipeline.config import ModelConfig, Settings
from pipeline.edges.registry import CHAMPION, ModelVersionInfo, Registry
from pipeline.errors import DataError, PipelineError, first_line
from pipeline.model.scorer import DirectScorer
from pipeline.serving.body import RequestRecords, TooLarge, read_records

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pipeline.edges.predlog import LoggedRequest, PredictionLog

log = logging.getLogger("pipeline.serving.api")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = ("/health",)  # what a load balancer's health check reaches without the token


class RequestGuard:
    """ASGI middleware: the bearer token, then the body-size cap, before any handler runs.

    The token is compared in constant time. The size is checked on ``Content-Length``, and a
    body without one is read up to the cap first, so a chunked upload cannot get past it.
    """

    def __init__(self, app: Any, token: str | None, max_mb: float) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.max_mb = max_mb
        self.max_bytes = int(max_mb * 2**20)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.token is not None and scope.get("path") not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self.token):
                await _reply(
                    send,
                    401,
                    "missing or wrong token: send Authorization: Bearer <PIPELINE_API_TOKEN>",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _reply(send, 400, "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                await _reply(send, 413, self._too_large(int(declared)))
                return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # No Content-Length (a chunked upload): read it here, up to the cap, then hand it
            # on. Raising from inside the app's own read would be caught as a parse error.
            body, more = b"", True
            while more:
                message = await receive()
                if message.get("type") != "http.request":
                    return  # the client went away
                body += message.get("body", b"")
                more = bool(message.get("more_body"))
                if len(body) > self.max_bytes:
                    await _reply(send, 413, self._too_large(len(body)))
                    return
            replayed = False

            async def replay() -> Any:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    def _too_large(self, size: int) -> str:
        return f"the request body is {size} bytes; at most {self.max_mb:g} MB (serve_max_body_mb)"


async def _reply(
    send: Any, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class ServedModel:
    info: ModelVersionInfo
    model: Any
    loaded_at: str
    # The same model without the ColumnTransformer's pandas plumbing, when it reproduces the
    # pipeline's scores (``DirectScorer.compile``); None: the pipeline scores.
    direct: DirectScorer | None = None
    # The kept challenger scoring beside it (``serve_shadow``): its version and model.
    shadow: tuple[ModelVersionInfo, Any] | None = None


class ChampionWatcher:
    """The champion being served, swapped for a new one when the registry's alias moves."""

    def __init__(self, registry: Registry, interval_seconds: float, shadow: bool = False) -> None:
        self.registry = registry
        self.interval = interval_seconds
        self.shadow = shadow
        self._served: ServedModel | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def served(self) -> ServedModel | None:
        return self._served

    def refresh(self) -> bool:
        """Load the champion if it is not the version served; True when it swapped one in."""
        try:
            current = self._served
            if current is not None and not self.shadow:
                # Most polls find the same champion: ask for its version number only, not for
                # its run's metrics, parameters and tags (a poll held the GIL that long).
                if self.registry.alias_version(CHAMPION) == current.info.version:
                    self.last_error = None
                    return False
            champion = self.registry.by_alias(CHAMPION)
            if champion is None:
                self.last_error = f"model '{self.registry.name}' has no champion yet"
                return False
            shadow = self.registry.shadow(champion) if self.shadow else None
            wanted = shadow.version if shadow else None
            if current is not None and current.info.version == champion.version:
                had = current.shadow[0].version if current.shadow else None
                if had == wanted:
                    self.last_error = None
                    return False
                model, direct = current.model, current.direct
            else:
                model = self.registry.load_model(champion)
                direct = self._direct_scorer(champion, model)
            shadowing = (shadow, self.registry.load_model(shadow)) if shadow else None
        except PipelineError as error:
            # Keep serving what is loaded: a registry hiccup must not take the API down.
            self.last_error = str(error)
            log.warning("champion check failed: %s", error)
            return False
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        # One reference assignment: a request sees the old model or the new one, never a mix.
        self._served = ServedModel(champion, model, stamp, direct, shadowing)
        self.last_error = None
        _freeze_heap()
        log.info(
            "serving %s v%d%s%s",
            self.registry.name,
            champion.version,
            f" (was v{current.info.version})" if current else "",
            f", v{shadowing[0].version} scoring beside it (shadow)" if shadowing else "",
        )
        return True

    def _direct_scorer(self, champion: ModelVersionInfo, model: Any) -> DirectScorer | None:
        """Compiled against the champion's own training data, which the registry holds."""
        from pipeline.model.schema import validate_batch

        try:
            raw = self.registry.load_reference(champion)
        except PipelineError as error:
            log.info("scoring through the pipeline: %s", error)
            return None
        reference = validate_batch(raw, self.registry.config, "reference").frame
        return DirectScorer.compile(model, reference)

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name="champion-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()


def _freeze_heap() -> None:
    """Hide what is loaded now (libraries, the model) from the cyclic garbage collector.

    Requests allocate fast, and each full collection walked every object the server holds:
    under load one took 190 ms, twice in 8 s, and those pauses were the API's p99. Frozen
    objects are still freed by reference counting; what was frozen before a model swap is
    unfrozen and collected once, so an old model does not linger (one such pause per swap,
    in the watcher's thread, instead of one every few seconds under load).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def latest_drift(settings: Settings, model: str) -> dict[str, Any] | None:
    """The newest ``drift.json`` of ``model`` across its periods, or None before the first."""
    from pipeline.monitoring.drift import DRIFT_FILE
    from pipeline.results import read_json

    folder = settings.path(settings.output_dir) / model
    found = sorted(folder.glob(f"*/{DRIFT_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        return None
    result = read_json(found[-1])
    result.setdefault("period", found[-1].parent.name)
    return result


def record_schema(config: ModelConfig) -> dict[str, Any]:
    """One record of ``config``'s model as JSON Schema: names, types, levels, ranges, lengths.

    What ``/openapi.json`` publishes for ``POST /predict``, so that a client generator or a
    schema-driven fuzzer knows the record. The request is still checked by the model's schema
    (``validate_batch``), so the error messages stay the ones the batch path gives.
    """
    properties: dict[str, Any] = {}
    for spec in config.columns:
        if spec.role == "target":
            continue
        if spec.kind == "categorical":
            item: dict[str, Any] = {"type": "string", "enum": list(spec.levels)}
        elif spec.role != "feature":
            # A column that is not scored is checked only for its type and levels (what
            # ``validated`` does), so its range and length are not published as rules.
            item = {"type": "number" if spec.kind == "numeric" else "string"}
        elif spec.kind == "numeric":
            item = {"type": "integer" if spec.dtype == "int" else "number"}
            if spec.min is not None:
                item["minimum"] = spec.min
            if spec.max is not None:
                item["maximum"] = spec.max
        else:
            item = {"type": "string", "minLength": 1, "maxLength": spec.max_length}
            item["pattern"] = r"\S"  # not blank
        if spec.role != "feature":
            # Not scored: null is as good as absent.
            item = {"anyOf": [item, {"type": "null"}]}
        item["description"] = f"{spec.role} ({spec.kind})"
        properties[spec.name] = item
    return {
        "title": f"{config.name} record",
        "type": "object",
        "properties": properties,
        "required": list(config.features),
    }


def request_schema(config: ModelConfig, max_records: int) -> dict[str, Any]:
    records = {
        "type": "array",
        "items": record_schema(config),
        "minItems": 1,
        "maxItems": max_records,
    }
    return {
        "title": f"{config.name} prediction request",
        "oneOf": [
            {"type": "object", "properties": {"records": records}, "required": ["records"]},
            records,
        ],
    }


def validated(config: ModelConfig, records: list[dict[str, Any]]) -> Any:
    """One request's records checked by the model's schema; any rejected record fails it."""
    import numpy as np
    import pandas as pd

    from pipeline.model.schema import validate_batch, validate_records

    batch = validate_records(config, records)
    if batch is None:  # values that need pandas' coercion: checked as a frame
        # pd.DataFrame, not from_records: [{}] is one record with no columns (then named as
        # missing), not an empty table.
        frame = pd.DataFrame(records, index=range(len(records)))
        batch = validate_batch(frame, config, "the request")
    if batch.rejected_rows:
        assert batch.accepted is not None
        first = int(np.flatnonzero(~batch.accepted.to_numpy())[0])
        reasons = ", ".join(
            f"{reason} ({count})" for reason, count in batch.rejection_reasons.items()
        )
        raise DataError(
            f"{batch.rejected_rows} record(s) rejected, the first is row {first + 1}: {reasons}"
        )
    return batch


def answer(
    served: ServedModel,
    config: ModelConfig,
    records: list[dict[str, Any]],
    scores: list[float],
    predicted: list[bool],
) -> dict[str, Any]:
    """One request's answer: a score (rounded to 6 places) and a class per record, its ids
    echoed."""
    known = {c.name for c in config.columns}
    predictions: list[dict[str, Any]] = [
        {"score": score, "predicted": flag} for score, flag in zip(scores, predicted)
    ]
    for spec in config.columns_with_role("id"):
        # Echo the caller's own id values (the validated frame holds them as floats).
        for item, record in zip(predictions, records):
            if spec.name in record:
                item[spec.name] = record[spec.name]
    ignored = sorted(set().union(*records) - known)  # JSON keys are strings
    return {
        "model": config.name,
        "model_version": served.info.version,
        "predictions": predictions,
        "ignored_columns": ignored,
    }


@dataclass
class _Waiting:
    served: ServedModel
    request: RequestRecords
    answer: dict[str, Any] | None = None
    error: PipelineError | None = None
    # What goes to the prediction log for this request, once it is scored.
    logged: LoggedRequest | None = None


class MicroBatcher:
    """Concurrent /predict requests validated, scored and logged together, answered one by one.

    The event loop queues each request; one scoring thread takes everything queued as one
    batch: the records are validated and scored as one frame with one model call, then the
    batch goes to the log's own thread, which writes it in one transaction, while the scoring
    thread takes the next batch. When fewer requests are queued than the last batch held, the
    batcher waits up to ``window`` seconds for the rest of them (0: no batching, every request
    is scored alone). Records are validated together; if the schema refuses them, each request
    is validated alone, so a bad request gets its own 422 and never fails its neighbours. A
    request is answered only after its records are committed; a refused one at once.

    No thread waits per request: requests wait on the event loop. The scoring thread keeps the
    model to itself and the log's thread its connection. Scoring one batch while the last one
    is written keeps both busy: the database's work (on PostgreSQL, in another process) no
    longer adds to every batch's time.
    """

    def __init__(self, config: ModelConfig, log: PredictionLog, window: float) -> None:
        self.config = config
        self.log = log
        self.window = window
        self._queue: list[tuple[_Waiting, asyncio.Future[None]]] = []
        self._draining = False
        self._last_batch = 1
        self._scorer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftgate-score")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftgate-log")
        self._unwritten: list[tuple[_Waiting, asyncio.Future[None]]] = []
        self._writing = False

    async def score(self, served: ServedModel, request: RequestRecords) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        item = _Waiting(served, request)
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((item, done))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        await done
        if item.error is not None:
            raise item.error
        assert item.answer is not None
        return item.answer

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.window <= 0:
                    queued = [self._queue.pop(0)]
                else:
                    deadline = loop.time() + self.window
                    # The clients of the last batch are sending their next requests: give them
                    # the window to arrive, and no longer.
                    while len(self._queue) < self._last_batch and loop.time() < deadline:
                        await asyncio.sleep(min(0.0005, self.window))
                    queued, self._queue = self._queue, []
                    self._last_batch = len(queued)
                try:
                    await loop.run_in_executor(self._scorer, self._process, [i for i, _ in queued])
                except RuntimeError as error:  # the scorer shut down (the server is stopping)
                    _fail(queued, PipelineError(f"scoring failed: {first_line(error)}"))
                scored = [pair for pair in queued if pair[0].logged is not None]
                _resolve([pair for pair in queued if pair[0].logged is None])  # refused: now
                self._unwritten.extend(scored)
                if self._unwritten and not self._writing:
                    self._write_unwritten()
        finally:
            self._draining = False

    def _write_unwritten(self, _written: Any = None) -> None:
        """Hand everything scored and not yet written to the log's thread, as one transaction.

        Batches scored while a write is under way wait for it and then go together (a group
        commit): under load the log commits as often as it can, not once per scored batch.
        """
        self._writing = bool(self._unwritten)
        if not self._writing:
            return
        pairs, self._unwritten = self._unwritten, []
        try:
            writing = asyncio.get_running_loop().run_in_executor(
                self._writer, self._write, [item for item, _ in pairs]
            )
        except RuntimeError as error:  # the log's thread shut down (the server is stopping)
            _fail(pairs, PipelineError(f"logging failed: {first_line(error)}"))
            _resolve(pairs)
            self._writing = False
            return
        writing.add_done_callback(functools.partial(_resolve, pairs))
        writing.add_done_callback(self._write_unwritten)

    def close(self) -> None:
        self._scorer.shutdown(wait=True)
        self._writer.shutdown(wait=True)  # what is scored is written before the log closes

    def _process(self, batch: list[_Waiting]) -> None:
        try:
            versions: dict[int, list[_Waiting]] = {}
            for item in batch:  # a swap of champion mid-batch: each version scores its own
                versions.setdefault(item.served.info.version, []).append(item)
            for items in versions.values():
                self._score(items)
        except Exception as error:  # noqa: BLE001 - no waiting request may hang on a failure
            failure = _as_pipeline_error(error, "scoring failed")
            for item in batch:
                if item.error is None:
                    item.answer, item.logged, item.error = None, None, failure

    def _write(self, items: list[_Waiting]) -> None:
        """The scored requests' records in one transaction; none is answered if it fails."""
        try:
            self.log.append_requests([item.logged for item in items if item.logged is not None])
        except Exception as error:  # noqa: BLE001
            # An unlogged prediction would be invisible to drift checks: none is answered.
            failure = _as_pipeline_error(error, "logging failed")
            for item in items:
                item.answer, item.error = None, failure

    def _score(self, items: list[_Waiting]) -> None:
        import pandas as pd

        from pipeline.edges.predlog import LoggedRequest
        from pipeline.model.predict import score_chunk
        from pipeline.model.schema import ValidatedBatch

        served = items[0].served
        accepted: list[_Waiting] = []
        batches = []
        try:
            batches = [validated(self.config, [r for i in items for r in i.request.records])]
            accepted = list(items)
        except DataError:
            for item in items:
                try:
                    batches.append(validated(self.config, item.request.records))
                    accepted.append(item)
                except DataError as error:
                    item.error = error
        if not accepted:
            return
        if len(batches) == 1:
            batch = batches[0]
        else:
            batch = ValidatedBatch(
                pd.concat([b.frame for b in batches], ignore_index=True), has_labels=False
            )
        if served.direct is not None:
            arrays = batch.arrays or {c: batch.frame[c].to_numpy() for c in batch.frame.columns}
            scores = served.direct.scores(arrays)
            predicted = scores >= self.config.decision_threshold
        else:
            scored = score_chunk(served.model, batch.frame, self.config, None)
            scores = scored["score"].to_numpy(dtype="float64")
            predicted = scored["predicted"].to_numpy(dtype=bool)
        shadow_scores = None
        if served.shadow is not None:
            shadowed = score_chunk(served.shadow[1], batch.frame, self.config, None)
            shadow_scores = [round(float(v), 6) for v in shadowed["score"].to_numpy()]
        # As Python values once for the batch: rounding floats costs a fraction of rounding
        # numpy scalars, and the answers and the log share the lists.
        rounded = [round(score, 6) for score in scores.tolist()]
        flags = predicted.tolist()
        offset = 0
        for item in accepted:
            end = offset + len(item.request.records)
            item_scores, item_flags = rounded[offset:end], flags[offset:end]
            item.answer = answer(served, self.config, item.request.records, item_scores, item_flags)
            item.answer["request_id"] = uuid.uuid4().hex
            item.logged = LoggedRequest(
                self.config.name,
                served.info.version,
                item.answer["request_id"],
                item.request.texts,
                item_scores,
                item_flags,
                served.shadow[0].version if served.shadow else None,
                list(shadow_scores[offset:end]) if shadow_scores is not None else None,
            )
            offset = end


def _as_pipeline_error(error: Exception, what: str) -> PipelineError:
    """``error`` as the one line a 503 carries."""
    return (
        error if isinstance(error, PipelineError) else PipelineError(f"{what}: {first_line(error)}")
    )


def _fail(pairs: list[tuple[_Waiting, asyncio.Future[None]]], error: PipelineError) -> None:
    for item, _ in pairs:
        item.answer, item.logged, item.error = None, None, error


def _resolve(pairs: list[tuple[_Waiting, asyncio.Future[None]]], _written: Any = None) -> None:
    """Let the requests of ``pairs`` have their answers (or errors)."""
    for _, done in pairs:
        if not done.done():
            done.set_result(None)


class DashboardSite:
    """The dashboard served at ``/dashboard``, rebuilt when a run lands or the champion moves.

    ``build`` writes the site into a folder (the CLI hands in ``pipeline dashboard``'s step; the
    serving layer draws nothing itself). It is rebuilt lazily, on the first request after the
    served champion or the newest period's ``drift.json`` changed.
    """

    def __init__(self, settings: Settings, folder: Path, build: Callable[[Path], Any]) -> None:
        self.settings = settings
        self.folder = folder
        self.build = build
        self._built_for: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def fingerprint(self, watcher: ChampionWatcher) -> tuple[Any, ...]:
        from pipeline.monitoring.drift import DRIFT_FILE

        root = self.settings.path(self.settings.output_dir)
        newest = max((p.stat().st_mtime for p in root.glob(f"*/*/{DRIFT_FILE}")), default=0.0)
        served = watcher.served
        return (served.info.version if served else None, newest)

    def file(self, watcher: ChampionWatcher, relative: str) -> Path | None:
        with self._lock:
            now = self.fingerprint(watcher)
            if now != self._built_for or not (self.folder / "index.html").exists():
                self.build(self.folder)
                self._built_for = now
        target = (self.folder / (relative or "index.html")).resolve()
        inside = target == self.folder.resolve() or self.folder.resolve() in target.parents
        return target if inside and target.is_file() else None


def create_app(
    settings: Settings,
    config: ModelConfig,
    watcher: ChampionWatcher | None = None,
    prediction_log: PredictionLog | None = None,
    token: str | None = None,
    dashboard: DashboardSite | None = None,
) -> FastAPI:
    import orjson
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    from pipeline.edges.predlog import PredictionLog

    watcher = watcher or ChampionWatcher(
        Registry(settings, config), settings.serve_reload_seconds, settings.serve_shadow
    )
    prediction_log = prediction_log or PredictionLog(settings.prediction_log)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            batcher.close()
            prediction_log.close()

    app = FastAPI(
        title=f"Driftgate: {config.name}",
        description=config.description,
        lifespan=lifespan,
    )

    app.add_middleware(RequestGuard, token=token, max_mb=settings.serve_max_body_mb)
    batcher = MicroBatcher(config, prediction_log, settings.serve_batch_window_ms / 1000)

    def unavailable() -> JSONResponse:
        reason = watcher.last_error or f"model '{config.name}' is not loaded yet"
        return JSONResponse({"detail": reason}, status_code=503)

    body_schema = request_schema(config, settings.serve_max_records)

    @app.post(
        "/predict",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
    )
    async def predict(request: Request) -> Any:
        # Async: the request waits on the event loop while the batcher's one thread scores
        # (CPU work off the loop); no thread of the pool is held per request. The body is read
        # here, not by FastAPI: orjson reads it and writes each record's text for the log.
        served = watcher.served
        if served is None:
            return unavailable()
        started = time.perf_counter()
        try:
            records = read_records(await request.body(), settings.serve_max_records)
            reply = await batcher.score(served, records)
        except TooLarge as error:
            return JSONResponse({"detail": str(error)}, status_code=413)
        except DataError as error:
            return JSONResponse({"detail": str(error)}, status_code=422)
        except PipelineError as error:
            log.error("%s", error)
            return JSONResponse({"detail": str(error)}, status_code=503)
        reply["milliseconds"] = round(1000 * (time.perf_counter() - started), 2)
        # Plain JSON already: FastAPI's encoder would walk every prediction again, and orjson
        # writes a 100-record answer in a tenth of the standard library's time.
        return Response(orjson.dumps(reply), media_type="application/json")

    @app.get("/model")
    def model_info() -> Any:
        served = watcher.served
        if served is None:
            return unavailable()
        info = served.info
        return {
            "name": config.name,
            "version": info.version,
            "run_id": info.run_id,
            "aliases": info.aliases,
            "metrics": info.metrics,
            "created_at": info.created_at,
            "promoted_at": info.tags.get("driftgate.promoted_at"),
            "promotion_reason": info.tags.get("driftgate.promotion_reason"),
            "loaded_at": served.loaded_at,
        }

    @app.get("/drift")
    def drift() -> Any:
        result = latest_drift(settings, config.name)
        if result is None:
            return JSONResponse(
                {"detail": f"no drift result for model '{config.name}' yet"}, status_code=404
            )
        return result

    if dashboard is not None:
        from fastapi.responses import FileResponse, RedirectResponse

        @app.get("/dashboard", include_in_schema=False)
        def dashboard_root() -> Any:
            return RedirectResponse("/dashboard/index.html")

        @app.get("/dashboard/{relative:path}", include_in_schema=False)
        def dashboard_file(relative: str) -> Any:
            found = dashboard.file(watcher, relative)
            if found is None:
                return JSONResponse({"detail": f"no {relative} in the dashboard"}, status_code=404)
            return FileResponse(found)

    @app.get("/health")
    def health() -> Any:
        served = watcher.served
        if served is None:
            return unavailable()
        body = {"status": "ok", "model": config.name, "version": served.info.version}
        if watcher.last_error:
            body["warning"] = watcher.last_error
        return body

    return app


def serve(
    settings: Settings,
    config: ModelConfig,
    host: str,
    port: int,
    token: str | None = None,
    dashboard: DashboardSite | None = None,
) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    if token is None and host not in LOOPBACK:
        log.warning(
            "PIPELINE_API_TOKEN is not set: serving on 127.0.0.1 only, not %s (the API scores "
            "personal data; set a token to serve other hosts)",
            host,
        )
        host = "127.0.0.1"
    try:
        app = create_app(settings, config, token=token, dashboard=dashboard)
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise PipelineError(f"could not start the API: {first_line(exc)}") from exc
    guard = "every endpoint but /health needs the bearer token" if token else "no token"
    log.info("serving %s on http://%s:%d (%s)", config.name, host, port, guard)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
