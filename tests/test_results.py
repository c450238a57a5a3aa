"""Results written atomically are ordinary files once published."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipeline.results import staged_outputs, write_json_atomic


def test_published_results_are_readable_as_the_umask_allows_not_private(tmp_path: Path) -> None:
    """A container writes outputs/ as its own user; the host's user reads them afterwards."""
    previous = os.umask(0o022)
    try:
        written = write_json_atomic(tmp_path / "predict.json", {"rows": 1})
        with staged_outputs(tmp_path) as outputs:
            part = outputs.folder("predictions.parquet")
            (part / "part-0.parquet").write_bytes(b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "predictions.parquet").stat().st_mode) == 0o755
