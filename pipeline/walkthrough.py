"""`pipeline walkthrough`: the monthly loop closed once per model, as ``scripts/cycle.sh`` shows it.

Two ordinary months, then the world changes; each month is one ``cycle.run_cycle`` (the issue
written in dry run), the changed month's labels mature, a challenger is proposed, its merge is
played, and this month is served by whichever champion that leaves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import ModelConfig, Settings
from pipeline.cycle import CycleResult, run_cycle
from pipeline.edges.registry import Registry
from pipeline.errors import GateError
from pipeline.model.periods import shift_month
from pipeline.steps.promote import play_merge_step, promote_from_event

log = logging.getLogger("pipeline")


@dataclass
class WalkthroughResult:
    """One model's closed loop, as ``scripts/cycle.sh`` shows it."""

    model: str
    change_period: str
    runs: list[CycleResult]
    proposed_version: int | None
    promoted: bool


def run_walkthrough(
    settings: Settings,
    models: list[ModelConfig],
    this_month: str,
    engine: str | None = None,
    jobs: int = 1,
    search_jobs: int | None = None,
) -> list[WalkthroughResult]:
    """The loop closed once per model on the embedded defaults, in dry run.

    Two ordinary months are scored and checked; then the world changes: from month
    ``this_month - (label_delay_months + 1)`` on, every batch is drifted (covariate and concept)
    and each month's run writes its drift issue. Last month the changed month's labels have
    matured, so its run sees the realized drop and proposes a challenger of the new world; its
    merge is played (``play-merge``, then ``promote --event`` as promote.yml does) and this
    month is served by whichever champion that leaves.

    With ``jobs`` above 1 the models run side by side in that many processes (each model's
    months stay in order); each model's log is written to ``outputs/<model>/walkthrough.log``
    and shown in model order once that model is done. ``search_jobs`` is how many processes
    each of those model processes gives its searches (``PIPELINE_JOBS``; default ``jobs``).
    """
    if jobs <= 1 or len(models) < 2:
        return [walk_model(settings, config, this_month, engine) for config in models]
    searches = jobs if search_jobs is None else search_jobs
    return _walk_side_by_side(settings, models, this_month, engine, jobs, searches)


def walk_model(
    settings: Settings, config: ModelConfig, this_month: str, engine: str | None = None
) -> WalkthroughResult:
    """One model's closed loop (see ``run_walkthrough``)."""
    from pipeline.reporting.report import PULL_CARD

    change = config.label_delay_months + 1
    runs = []
    for back in (change + 2, change + 1):
        month = shift_month(this_month, -back)
        runs.append(run_cycle(settings, config, month, steps=("predict", "drift"), engine=engine))
    for back in range(change, 0, -1):
        month = shift_month(this_month, -back)
        runs.append(run_cycle(settings, config, month, simulate_drift=True, engine=engine))
    proposed = settings.output_dir_for(config.name, shift_month(this_month, -1))
    version, promoted = None, False
    if (proposed / PULL_CARD).exists():
        event = play_merge_step(settings, config, proposed)
        try:
            outcome = promote_from_event(settings, config, event, dry_run=True)
            version, promoted = outcome.version, True
        except GateError as refusal:
            log.warning("%s: the played merge did not promote: %s", config.name, refusal)
    runs.append(run_cycle(settings, config, this_month, simulate_drift=True, engine=engine))
    return WalkthroughResult(config.name, shift_month(this_month, -change), runs, version, promoted)


WALKTHROUGH_LOG = "walkthrough.log"


def _walk_side_by_side(
    settings: Settings,
    models: list[ModelConfig],
    this_month: str,
    engine: str | None,
    jobs: int,
    search_jobs: int,
) -> list[WalkthroughResult]:
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    # The tracking store's schema and each model's experiment are created here, once: two
    # processes creating them at the same moment would race.
    for config in models:
        Registry(settings, config).client
    logs = {c.name: settings.output_dir_for(c.name, "x").parent / WALKTHROUGH_LOG for c in models}
    # "spawn": a forked child would share this process's open database connections.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_walk_logged, settings, c, this_month, engine, logs[c.name], search_jobs)
            for c in models
        ]
        results = []
        for config, future in zip(models, futures, strict=True):
            try:
                results.append(future.result())
            finally:
                if logs[config.name].exists():
                    sys.stderr.write(logs[config.name].read_text(encoding="utf-8"))
                    sys.stderr.flush()
    return results


def _walk_logged(
    settings: Settings,
    config: ModelConfig,
    this_month: str,
    engine: str | None,
    log_file: Path,
    search_jobs: int,
) -> WalkthroughResult:
    """``walk_model`` in a worker process, everything it says written to ``log_file``."""
    import contextlib
    import warnings

    from joblib import parallel_config

    warnings.filterwarnings("ignore")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w", encoding="utf-8") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        # The models share the cores, and each model's searches may use them all: while two
        # models train the fits take turns, and when one model is done the other's fits take its
        # core (three models: 117 s, against 136 s with one fit at a time per model). A spawned
        # process does not inherit the caller's parallel_config, so it is set again here.
        with (
            contextlib.redirect_stdout(stream),
            contextlib.redirect_stderr(stream),
            parallel_config(n_jobs=search_jobs),
        ):
            try:
                return walk_model(settings, config, this_month, engine)
            finally:
                # The fits' worker processes now, not after their idle timeout (300 s, which
                # this process would wait out before it ends).
                from joblib.externals.loky import get_reusable_executor

                get_reusable_executor().shutdown(wait=True)
