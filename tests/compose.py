"""Run a docker-compose.yml service's command natively, as the container would run it.

The command is the image target's ENTRYPOINT (read from the Dockerfile) plus the service's
``command``, with the service's ``environment`` and ``working_dir``, all interpolated from the
environment the way ``docker compose`` interpolates them from the shell and ``.env``. What only
a container has is mapped onto this host, and nothing else: a named volume's mount point becomes
a folder, another service's host name (``mlflow:5000``) becomes 127.0.0.1 and its published
port, and a listening ``--host 0.0.0.0 --port N`` becomes 127.0.0.1 and a free port.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?message}`` and ``${VAR?message}``, defaults themselves interpolated."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_expression(text[i + 2 : j - 1], env))
            i = j
        elif (match := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])) is not None:
            out.append(env.get(match.group(1), ""))
            i += match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expression(body: str, env: dict[str, str]) -> str:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?(.*)", body, re.S)
    assert match, body
    name, operator, rest = match.groups()
    value = env.get(name)
    unset = value is None or (value == "" and operator and operator.startswith(":"))
    if operator and operator.endswith("-") and unset:
        return interpolate(rest, env)
    if operator and operator.endswith("?") and unset:
        raise ValueError(f"compose would refuse to start: {name}: {rest}")
    return value or ""


def entrypoint(target: str) -> list[str]:
    """The ENTRYPOINT of a Dockerfile stage (``FROM ... AS target``)."""
    stage = None
    for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FROM "):
            stage = line.split()[-1] if " AS " in line else None
        elif stage == target and line.startswith("ENTRYPOINT "):
            value = json.loads(line[len("ENTRYPOINT ") :])
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError(f"Dockerfile stage '{target}' has no ENTRYPOINT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NativeService:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def run(self, *override: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Like ``docker compose run --rm <service> [override...]``: a one-off, to completion."""
        argv = self.argv if not override else self.argv[:1] + list(override)
        return subprocess.run(
            argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, log: Path) -> NativeService:
        """Like ``docker compose up <service>``: in the background, logging to ``log``."""
        handle = log.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )
        return self

    def wait_healthy(self, path: str = "/health", seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while True:
            assert self.process is not None and self.process.poll() is None, f"{self.name} died"
            try:
                with urllib.request.urlopen(f"{self.url}{path}", timeout=3) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.name} never became healthy"
            time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def native_service(
    name: str,
    env: dict[str, str],
    volumes: dict[str, Path],
    published: dict[str, int],
    extra_env: dict[str, str] | None = None,
) -> NativeService:
    """``name`` from docker-compose.yml, mapped onto this host (see the module docstring).

    ``env`` is what compose interpolates from; ``volumes`` maps named volumes to folders;
    ``published`` maps other services' names to the ports they listen on here.
    """
    service: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"][
        name
    ]
    argv = entrypoint(service["build"]["target"]) + [
        interpolate(str(arg), env) for arg in service["command"]
    ]
    environment = {k: interpolate(str(v), env) for k, v in service["environment"].items()}
    for mount in service.get("volumes", []):
        source, target = interpolate(str(mount), env).split(":")[:2]
        if source in volumes:
            argv = [volumes[source].as_posix() if a == target else a for a in argv]
    for other, port in published.items():
        pattern = re.compile(rf"(?<=[/@]){re.escape(other)}:\d+")
        environment = {k: pattern.sub(f"127.0.0.1:{port}", v) for k, v in environment.items()}
    port = None
    if "--port" in argv:
        port = free_port()
        argv[argv.index("--port") + 1] = str(port)
        argv[argv.index("--host") + 1] = "127.0.0.1"
    cwd = Path(interpolate(str(service.get("working_dir", ".")), env))
    base = {key: os.environ[key] for key in ("HOME", "LANG") if key in os.environ}
    # The image puts its virtualenv first on PATH; natively that is the one running the tests.
    base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    full_env = {**base, **environment, **(extra_env or {})}
    return NativeService(name, argv, full_env, cwd, port)
