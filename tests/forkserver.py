"""``python -m pipeline`` commands as processes forked from one that has imported the libraries.

A command of the crash scenario (``tests/crash.py``) must be a process of its own, killed for
real. Started with ``python -m pipeline``, each spent most of its time importing: MLflow,
Evidently and skops took 4.8 s of a drifted month's 11.1 s ``run``, and MLflow 1.7 s of
``promote``'s 2.4 s and of ``state push``'s 2.3 s, 20 commands a scenario. Here a server imports
those libraries once and forks a child per command, as a preloading application server forks
its workers: the child sets its own session, folder, environment and output files and runs
``pipeline/__main__.py`` as ``-m`` does. Driftgate's own modules are not preloaded, so whatever
they read when imported is read in each command's own environment, and each command counts its
failpoints from zero.

The server is this file run as a script; :class:`ForkServer` starts it and asks it for one
command at a time, over its stdin and stdout, one JSON line each way.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

# What `run`, `promote` and `state push` imported that took more than 10 ms (-X importtime).
PRELOAD = (
    "evidently",
    "skops.io",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.pyfunc.loaders",
    "github",
    "git",
    "joblib",
    "scipy.special",
)


class ForkServer:
    """A running server: :meth:`run` forks one command and returns how it ended."""

    def __init__(self, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._pending = b""  # read from the server, not yet a whole line
        ready = self._read()
        if ready.get("ready") is not True:
            raise RuntimeError(f"the fork server did not start: {ready}")

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """``python -m pipeline *argv`` in ``cwd`` with exactly ``env``, to its end; its return
        code as subprocess gives it (-9 for SIGKILL), and what it wrote. A command still
        running after ``timeout`` seconds is killed and TimeoutError raised."""
        with tempfile.TemporaryDirectory(prefix="driftgate-fork-") as folder:
            stdout, stderr = Path(folder) / "stdout", Path(folder) / "stderr"
            request = {
                "argv": argv,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(stdout),
                "stderr": str(stderr),
            }
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
            pid = int(str(self._read()["started"]))
            try:
                code = int(str(self._read(timeout)["returncode"]))
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # its whole session, then the server reaps it
                self._read()
                raise
            return subprocess.CompletedProcess(
                [sys.executable, "-m", "pipeline", *argv],
                code,
                stdout.read_text(errors="replace"),
                stderr.read_text(errors="replace"),
            )

    def _read(self, timeout: float | None = None) -> dict[str, object]:
        """The server's next line; read from its pipe directly, so that ``select`` sees all
        that is waiting (a buffered reader may hold the next line already)."""
        assert self._process.stdout is not None
        pipe = self._process.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([pipe], [], [], left)[0]:
                    raise TimeoutError(f"a forked command ran longer than {timeout:.0f} s")
            chunk = os.read(pipe, 65536)
            if not chunk:
                raise RuntimeError(f"the fork server ended (exit code {self._process.wait()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        answer: dict[str, object] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _child(request: dict[str, object]) -> None:
    """In the forked child: become ``python -m pipeline`` with the request's settings."""
    code: object = 1
    try:
        os.setsid()  # its own session, as start_new_session gives: a kill takes its children
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            handle = os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(handle, fd)
            os.close(handle)
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = ["pipeline", *map(str, argv)]
        sys.path[0] = os.getcwd()  # what -m puts first
        import runpy

        runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as ended:
        code = ended.code
        if isinstance(code, str):  # as the interpreter does with SystemExit("message")
            sys.stderr.write(code + "\n")
    except BaseException:  # noqa: BLE001 - reported as python would, then a non-zero exit
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        exit_without_teardown(code if isinstance(code, int) else (0 if code is None else 1))


def exit_without_teardown(code: int) -> NoReturn:
    """End this process now with ``code``: the standard streams flushed, and neither the exit
    handlers not yet run nor the interpreter's teardown of its modules and heap."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed stream has nothing left to write
            stream.flush()
    os._exit(code)


def _serve() -> None:
    import importlib
    import threading

    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # forking a process with threads copies their locks
        raise SystemExit(f"preloading started threads: {threading.enumerate()}")
    answers = sys.stdout
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            _child(json.loads(line))
        answers.write(json.dumps({"started": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            # A runner that dies takes the command's children with it (a model search's worker
            # processes would otherwise hold on for minutes).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


if __name__ == "__main__":
    _serve()
