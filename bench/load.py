"""The API under a bounded local load, with a promotion in the middle of it.

    python bench/load.py [--requests 10000] [--clients 8] [--records 1]

Trains two versions in a throwaway embedded registry, starts ``pipeline serve`` (uvicorn) on
127.0.0.1, and sends ``--requests`` POST /predict calls from ``--clients`` concurrent
keep-alive connections. A fifth of the way through, version 2 is promoted with ``pipeline
promote``; the API's watcher swaps it in. Prints requests/s, p50/p99 latency, the answers per
model version, and checks what must hold: every request answered 200 with a score in [0, 1],
and, per answered request id, exactly as many prediction log rows as it had records (none lost,
none doubled). Exits 1 if either does not hold.

``--database postgresql`` logs to a fresh database on ``--postgres`` (the machine's PostgreSQL
by default), dropped afterwards; the default is SQLite, as ``pipeline serve`` is by default.

In the same run it drives the framework's ceiling (bench/ceiling_app.py: FastAPI under uvicorn
parsing the same body and answering a constant) with the same clients, and prints Driftgate's
throughput as a share of it.

A Python client can be what caps that ceiling (one was seen topping out near 3,100 requests/s
while the bare app could answer more). So the throughput goals are also measured with ``wrk``
(Debian's package, C, one thread; ``--wrk-seconds`` each, 0 to skip): one-record and
100-record requests against ``pipeline serve`` and the bare app in the same run, against the
goals: one-record requests at least 0.35 of the bare app's rate with p99 under 20 ms,
100-record requests at least 0.5 of its records/s. Both servers stay up and the runs
alternate between them, ``--wrk-rounds`` pairs a size (3 by default); the share is the median
of the pairs' shares and the p99 the median of the API's runs, and every pair is printed.
On a shared 2-core machine the bare app's rate alone moved by a third between two runs of
the bench minutes apart, which one run of each server could not tell from a change of ours.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"pipeline {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the API exited before it became healthy")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the API never became healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--records", type=int, default=1, help="records per request")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the log's database on (--database postgresql)",
    )
    parser.add_argument(
        "--wrk-seconds", type=int, default=10, help="seconds per wrk run (0: no wrk runs)"
    )
    parser.add_argument(
        "--wrk-rounds",
        type=int,
        default=3,
        help="wrk runs per server and request size, alternating between the two servers",
    )
    args = parser.parse_args()
    use_wrk = args.wrk_seconds > 0
    if use_wrk and shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk (or --wrk-seconds 0)")

    work = Path(tempfile.mkdtemp(prefix="driftgate-load-"))
    env = {
        **os.environ,
        "PIPELINE_CONFIG": str(ROOT / "pyproject.toml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlruns.db'}",
        "PIPELINE_MLFLOW_ARTIFACT_ROOT": str(work / "mlartifacts"),
        "PIPELINE_OUTPUT_DIR": str(work / "outputs"),
        "PIPELINE_DATA_DIR": str(work / "data"),
        "DATABASE_URL": (
            _fresh_postgres(args.postgres)
            if args.database == "postgresql"
            else f"sqlite:///{work / 'predictions.db'}"
        ),
        "PIPELINE_SERVE_RELOAD_SECONDS": "1",
        "PIPELINE_ATTRITION_SEARCH_ITERATIONS": "1",
    }
    server = ceiling_server = None
    try:
        print("training versions 1 and 2 ...", file=sys.stderr)
        _cli(env, "train", "--seed", "0")
        _cli(env, "train", "--seed", "1")
        batch = _cli(env, "data", "generate", "--rows", "2000", "--seed", "5", "--no-labels")
        records = _records(Path(batch["path"]))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", str(port)],
            env=env,
            stdout=(work / "api.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_healthy(url, server)
        outcome = _load(port, records, args.requests, args.clients, args.records, env)
        per_request = _rows_per_request(env["DATABASE_URL"])
        # The bare app starts beside the API (idle while the other is measured): the wrk runs
        # then alternate between the two, so a machine that slows down meanwhile slows both.
        ceiling_port = _free_port()
        ceiling_server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(ROOT / "bench"),
                "ceiling_app:app",
                "--port",
                str(ceiling_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=(work / "ceiling.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_healthy(f"http://127.0.0.1:{ceiling_port}", ceiling_server)
        ceiling = _load(
            ceiling_port, records, args.requests, args.clients, args.records, env, promote=False
        )
        rounds = (
            _wrk_rounds(
                work, port, ceiling_port, records, args.wrk_seconds, args.clients, args.wrk_rounds
            )
            if use_wrk
            else {}
        )
    finally:
        for process in (server, ceiling_server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        if args.database == "postgresql":
            _drop_postgres(env["DATABASE_URL"], args.postgres)
    logged = sum(per_request.values())
    lost = sum(1 for rid in outcome["request_ids"] if per_request.get(rid, 0) < args.records)
    doubled = sum(1 for count in per_request.values() if count > args.records)
    unanswered = len(set(per_request) - set(outcome["request_ids"]))
    latencies = sorted(outcome["latencies"])
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    scored = outcome["ok"] * args.records
    print(
        f"requests:            {args.requests} from {args.clients} clients, "
        f"{args.records} record(s) each"
    )
    print(f"answered 200:        {outcome['ok']}  (failed: {len(outcome['failures'])})")
    print(
        f"throughput:          {args.requests / outcome['seconds']:.0f} requests/s "
        f"over {outcome['seconds']:.1f} s"
    )
    print(f"latency:             p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    rate, ceiling_rate = args.requests / outcome["seconds"], args.requests / ceiling["seconds"]
    ceiling_lat = sorted(ceiling["latencies"])
    print(
        f"ceiling (bare app):  {ceiling_rate:.0f} requests/s, p50 "
        f"{ceiling_lat[len(ceiling_lat) // 2] * 1000:.1f} ms; Driftgate at "
        f"{rate / ceiling_rate:.2f} of it; {rate * args.records:,.0f} records/s"
    )
    print(
        f"answers per version: {dict(sorted(outcome['versions'].items()))} "
        f"(v2 promoted after request {outcome['promoted_at']})"
    )
    print(
        f"prediction log:      {logged} rows for {scored} scored records ({args.database}); "
        f"requests with rows lost {lost}, doubled {doubled}; logged but not answered "
        f"{unanswered}"
    )
    for failure in outcome["failures"][:5]:
        print(f"  failure: {failure}")
    if 2 not in outcome["versions"]:
        print("  failure: no answer came from v2 after its promotion")
    healthy = (
        not outcome["failures"]
        and logged == scored
        and lost == doubled == 0
        and 2 in outcome["versions"]
    )
    if use_wrk:
        _print_wrk(rounds, args.wrk_seconds, args.clients, args.database)
    print("result:              " + ("OK" if healthy else "FAILED"))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if healthy else 1


_LUA = """-- bodies rotate so that no answer can be cached
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def _wrk(script: Path, port: int, seconds: int, connections: int) -> Any:
    """One wrk run: requests/s, p50 and p99 in ms, answers that were not 2xx."""
    command = ["wrk", "-t1", f"-c{connections}", "--latency", "-s", str(script)]
    url = f"http://127.0.0.1:{port}/predict"
    done = subprocess.run(
        [*command, f"-d{seconds}s", url], capture_output=True, text=True, check=True
    )
    out = done.stdout

    def millis(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise SystemExit(f"wrk printed no {label} latency:\n{out}")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: .*", out)
    if not rate:
        raise SystemExit(f"wrk printed no rate:\n{out}")
    return {
        "rate": float(rate.group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": sockets.group(0) if sockets else "",
    }


def _wrk_rounds(
    work: Path,
    port: int,
    ceiling_port: int,
    records: list[dict[str, Any]],
    seconds: int,
    connections: int,
    rounds: int,
) -> dict[int, list[tuple[Any, Any]]]:
    """Per request size (1 and 100 records), ``rounds`` pairs of wrk runs: (API, bare app).

    Each pair's two runs are back to back, and which goes first alternates, so the share of
    a pair compares the two servers on the machine as it was in those seconds.
    """
    found: dict[int, list[tuple[Any, Any]]] = {}
    for size in (1, 100):
        bodies = [
            json.dumps({"records": records[start : start + size]})
            for start in range(0, min(len(records) - size, 200 * size), size)
        ]
        script = work / f"post{size}.lua"
        script.write_text(_LUA % ",\n".join(f"[==[{body}]==]" for body in bodies))
        for target in (port, ceiling_port):
            _wrk(script, target, 2, connections)  # warm-up
        pairs = []
        for turn in range(rounds):
            order = (port, ceiling_port) if turn % 2 == 0 else (ceiling_port, port)
            runs = {target: _wrk(script, target, seconds, connections) for target in order}
            pairs.append((runs[port], runs[ceiling_port]))
        found[size] = pairs
    return found


def _print_wrk(
    rounds: dict[int, list[tuple[Any, Any]]], seconds: int, connections: int, database: str
) -> None:
    count = len(rounds[1])
    print(
        f"wrk ({connections} connections, one thread, {seconds} s a run, {count} runs a server "
        f"alternating; prediction log on {database}); medians of the runs:"
    )
    print(
        "  records/request   bare app                       pipeline serve"
        "                 share   goal"
    )
    for size, pairs in rounds.items():
        shares = [ours["rate"] / bare["rate"] for ours, bare in pairs]
        share = statistics.median(shares)

        def medians(runs: list[Any]) -> dict[str, float]:
            return {
                key: statistics.median(run[key] for run in runs) for key in ("rate", "p50", "p99")
            }

        def median_cell(run: dict[str, float]) -> str:
            return (
                f"{run['rate'] * size:>9,.0f} rec/s p50 {run['p50']:5.1f} p99 {run['p99']:5.1f} ms"
            )

        ours_runs, bare_runs = [p[0] for p in pairs], [p[1] for p in pairs]
        ours_median, bare_median = medians(ours_runs), medians(bare_runs)
        if size == 1:
            met = share >= 0.35 and ours_median["p99"] < 20
            goal = "share >= 0.35 and p99 < 20 ms"
        else:
            met = share >= 0.5
            goal = "share >= 0.5 of records/s"
        print(
            f"  {size:>15}   {median_cell(bare_median)}   {median_cell(ours_median)}   "
            f"{share:5.3f}   {goal}: {'met' if met else 'NOT met'}"
        )
        print(
            "                    each pair: "
            + ", ".join(
                f"{ours['rate'] * size:,.0f}/{bare['rate'] * size:,.0f} = {share:.3f}"
                f" (p99 {ours['p99']:.1f})"
                for (ours, bare), share in zip(pairs, shares)
            )
        )
        for name, runs in (("bare app", bare_runs), ("pipeline serve", ours_runs)):
            errors = sum(run["errors"] for run in runs)
            sockets = "; ".join(run["socket_errors"] for run in runs if run["socket_errors"])
            if errors or sockets:
                print(f"    {name}: {errors} answers not 2xx; {sockets}")


def _fresh_postgres(server: str) -> str:
    import sqlalchemy as sa

    name = f"driftgate_load_{os.getpid()}"
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str, server: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]}"))
    engine.dispose()


def _rows_per_request(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT request_id, count(*) FROM prediction_log GROUP BY request_id")
        ).all()
    engine.dispose()
    return {str(rid): int(count) for rid, count in rows}


def _records(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    return list(json.loads(pd.read_csv(path).to_json(orient="records")))


def _load(
    port: int,
    records: list[dict[str, Any]],
    requests: int,
    clients: int,
    per_request: int,
    env: dict[str, str],
    promote: bool = True,
) -> dict[str, Any]:
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    versions: Counter[int] = Counter()
    request_ids: list[str] = []
    done = [0]
    promoted_at: list[int] = []
    promote_now = threading.Event()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            start = number * per_request % (len(records) - per_request)
            body = json.dumps({"records": records[start : start + per_request]})
            began = time.perf_counter()
            try:
                connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    failures.append(f"request {number}: {error}")
                continue
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                done[0] += 1
                if done[0] == requests // 5:
                    promote_now.set()
                if response.status != 200:
                    failures.append(f"request {number}: {response.status} {payload[:200]!r}")
                    continue
                answer = json.loads(payload)
                scores = [p["score"] for p in answer["predictions"]]
                if len(scores) != per_request or not all(0.0 <= s <= 1.0 for s in scores):
                    failures.append(f"request {number}: bad predictions {answer}")
                versions[answer["model_version"]] += 1
                request_ids.append(answer.get("request_id", ""))
        connection.close()

    def promoter() -> None:
        promote_now.wait()
        if not promote:
            return
        promoted_at.append(done[0])
        _cli(env, "promote", "--model-version", "2", "--reason", "load test")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    promotion = threading.Thread(target=promoter)
    began = time.perf_counter()
    promotion.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    promote_now.set()
    promotion.join()
    return {
        "latencies": latencies,
        "failures": failures,
        "versions": versions,
        "seconds": seconds,
        "ok": sum(versions.values()),
        "promoted_at": promoted_at[0] if promoted_at else None,
        "request_ids": request_ids,
    }


if __name__ == "__main__":
    sys.exit(main())
