"""Results are data: every step writes JSON that the next step and the report read.

Writes are atomic (a temp file beside the target, then ``os.replace``) and a step that writes
several files stages them all and renames them only once the step has succeeded, so a failed
step leaves nothing half-written behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.config import step_outputs_file
from pipeline.errors import DataError


def to_jsonable(value: Any) -> Any:
    """Dataclasses, paths, numpy scalars and NaN turned into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n"


def read_json_if_exists(path: Path) -> dict[str, Any]:
    """``path``'s JSON object, or {} when an optional result was not written (yet)."""
    return read_json(path) if path.exists() else {}


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} should hold a JSON object")
    return data


def _umask() -> int:
    """This process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class StagedOutputs:
    """Files of one step, written to temp names and published together by ``commit``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._staged: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        """A temporary path to write ``name`` to; it becomes ``directory/name`` on commit."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        os.close(fd)
        temp = Path(tmp)
        # mkstemp makes it private (0600): once published it is an ordinary file, readable as
        # the umask allows (a container's outputs are read by the host's user afterwards).
        temp.chmod(0o666 & ~_umask())
        self._staged.append((temp, self.directory / name))
        return temp

    def folder(self, name: str) -> Path:
        """A temporary folder to write ``name`` to (a dataset of part files, say)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory))
        temp.chmod(0o777 & ~_umask())
        self._staged.append((temp, self.directory / name))
        return temp

    def write_text(self, name: str, text: str) -> Path:
        self.path(name).write_text(text, encoding="utf-8")
        return self.directory / name

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, dumps(value))

    def commit(self) -> None:
        for temp, final in self._staged:
            if final.is_dir() or temp.is_dir():
                _replace_tree(temp, final)
            else:
                os.replace(temp, final)
        self._staged.clear()

    def discard(self) -> None:
        for temp, _ in self._staged:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                temp.unlink(missing_ok=True)
        self._staged.clear()


def _replace_tree(temp: Path, final: Path) -> None:
    """Put ``temp`` (file or folder) at ``final``, which may be a folder or a file.

    A folder cannot be renamed over a non-empty one, so the old one is moved aside first and
    removed after: readers see the old result or the new one, never a mixture.
    """
    aside = None
    if final.exists():
        aside = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, aside)
    os.replace(temp, final)
    if aside is not None:
        if aside.is_dir():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)


@contextmanager
def staged_outputs(directory: Path) -> Iterator[StagedOutputs]:
    """Stage a step's files; publish them only if the block finishes without an exception."""
    outputs = StagedOutputs(directory)
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()


def write_json_atomic(path: Path, value: Any) -> Path:
    with staged_outputs(path.parent) as outputs:
        outputs.write_json(path.name, value)
    return path


def append_jsonl(path: Path, record: Any) -> None:
    """Append one JSON line (a single short write, so concurrent appenders do not interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(to_jsonable(record), sort_keys=True) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def set_step_outputs(values: dict[str, Any]) -> None:
    """Expose verdicts as GitHub Actions step outputs when running in a workflow."""
    target = step_outputs_file()
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        for key, value in values.items():
            text = json.dumps(value) if not isinstance(value, str) else value
            handle.write(f"{key}={text}\n")


@contextmanager
def exclusive(path: Path, holder: str) -> Iterator[None]:
    """Hold ``path``'s lock while the block runs, or refuse at once in one line.

    An advisory lock of the operating system (``flock``): it ends with the process holding it,
    so a killed run never leaves a stale lock behind. ``holder`` says who holds it (what runs,
    which process, since when) to whoever is refused.
    """
    import fcntl
    from datetime import datetime, timezone

    from pipeline.errors import BusyError

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "another process"
            raise BusyError(f"{other} holds {path}: wait for it to end, then run again") from None
        handle.seek(0)
        handle.truncate()
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        handle.write(f"{holder} (pid {os.getpid()}, since {started})\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
