"""Named points after each external write, where a test can kill the process.

A runner killed, a job cancelled: a run of Driftgate can die between any two writes it makes to
the world outside its folder (the MLflow registry, GitHub, the state branch). Each such write
calls :func:`passed` once it has landed. Two settings, both read from the environment so that
they reach a command run as a subprocess, make the points useful to tests and benches:

``DRIFTGATE_FAILPOINT_LOG``
    a file to which each point passed appends its name (one line): what a run's points are.
``DRIFTGATE_KILL_AT``
    ``N``: the process sends itself SIGKILL at the N-th point it passes (counting from 1), as a
    runner killed at that moment would be. Nothing is flushed or cleaned up, on purpose.

With neither set (every real run), a point costs two dictionary look-ups.
"""

from __future__ import annotations

import os
import signal

from pipeline.config import failpoint_settings

_passed = 0


def passed(name: str) -> None:
    """The write called ``name`` has landed; die here if this is the point to die at."""
    global _passed
    log, kill_at = failpoint_settings()
    if not log and kill_at is None:
        return
    _passed += 1
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")
    if kill_at == _passed:
        os.kill(os.getpid(), signal.SIGKILL)
