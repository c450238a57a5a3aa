"""The monthly cycle, in the order the workflow runs it: a table of contents of the steps.

bootstrap (first run) -> data -> predict -> drift -> retrain -> report. Each step's body lives in
``pipeline.steps.<step>``; this module calls them in order, hands the period's output folder
from one to the next, and reports a failing step on GitHub.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import GitHubTarget, ModelConfig, Settings
from pipeline.edges.alerts import alert_text, send_alert
from pipeline.edges.registry import CHAMPION, Registry
from pipeline.errors import ConfigError
from pipeline.model.periods import period_seed
from pipeline.results import exclusive, set_step_outputs, to_jsonable, write_json_atomic
from pipeline.steps.drift import drift_step
from pipeline.steps.labels import ingest_matured_labels, label_inbox
from pipeline.steps.predict import predict_step, project_relative
from pipeline.steps.report import report_failure, report_step
from pipeline.steps.retrain import retrain_step
from pipeline.steps.train import generate_batch, train_step

log = logging.getLogger("pipeline")


CYCLE_STEPS = ("predict", "drift", "retrain", "report")


@dataclass
class CycleResult:
    model: str
    period: str
    out_dir: str
    batch: str
    steps: list[str]
    bootstrapped_version: int | None
    drift_detected: bool | None = None
    retrain_decision: str | None = None
    issue_title: str | None = None
    issue_url: str | None = None
    pull_url: str | None = None


def parse_steps(text: str) -> tuple[str, ...]:
    """``predict,drift`` -> the steps in cycle order; unknown names are a one-line error."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CYCLE_STEPS]
    if unknown or not names:
        raise ConfigError(
            f"unknown step(s) {', '.join(repr(n) for n in unknown) or '(none given)'}; "
            f"choose from {','.join(CYCLE_STEPS)}"
        )
    return tuple(step for step in CYCLE_STEPS if step in names)


def run_cycle(
    settings: Settings,
    config: ModelConfig,
    period: str,
    simulate_drift: bool = False,
    force_retrain: bool = False,
    current: Path | None = None,
    dry_run: bool = True,
    target: GitHubTarget | None = None,
    steps: tuple[str, ...] = CYCLE_STEPS,
    engine: str | None = None,
) -> CycleResult:
    """Predict, detect drift, retrain when the policy says so, and report.

    ``engine`` scores and samples the batch (default: the ``engine`` setting). ``steps`` runs
    part of the cycle, as the workflow's jobs do (each job one step, the results
    handed on in the output folder). Outside a dry run a failing step is reported on GitHub too
    (named, with the run's link) before the error reaches the caller; a missing token fails
    before any work is done.
    """
    target = target or GitHubTarget.from_env()
    if not dry_run and "report" in steps:
        target.require()
    # One run of a model at a time: two (two terminals, two runners outside the workflow's
    # concurrency group) would both train, register and publish. The second refuses at once.
    lock = settings.path(settings.output_dir) / config.name / RUN_LOCK
    with exclusive(lock, f"`pipeline run` of {config.name} {period}"):
        return _run_cycle(
            settings, config, period, simulate_drift, force_retrain, current, dry_run, target,
            steps, engine,
        )  # fmt: skip


RUN_LOCK = ".run.lock"


def _run_cycle(
    settings: Settings,
    config: ModelConfig,
    period: str,
    simulate_drift: bool,
    force_retrain: bool,
    current: Path | None,
    dry_run: bool,
    target: GitHubTarget,
    steps: tuple[str, ...],
    engine: str | None,
) -> CycleResult:
    step = "bootstrap"
    try:
        registry = Registry(settings, config)
        bootstrapped = None
        if registry.by_alias(CHAMPION) is None:
            log.info("model '%s' has no champion yet: training the first version", config.name)
            bootstrapped = train_step(settings, config, None, reason="first version").version
        out_dir = settings.output_dir_for(config.name, period)
        if current is None:
            step = "data"
            kind = "mixed" if simulate_drift else "none"
            current = settings.path(settings.data_dir) / config.name / f"{period}-{kind}.csv"
            if current.exists():
                log.info("using the %s batch generated earlier: %s", period, current)
            else:
                log.info("no --current given: generating the %s batch (%s drift)", period, kind)
                seed = period_seed(period)
                # Ids unique across periods (up to a million rows a month): late labels join
                # a period's predictions by id. With a label delay, the labels wait apart.
                late = config.label_delay_months > 0
                inbox = label_inbox(settings, config) / f"{period}.csv" if late else None
                rows, first_id = config.batch_rows, seed * 10**6
                generate_batch(
                    settings, config, current, rows, seed, kind, start_id=first_id, label_file=inbox
                )
        step = "labels"
        for ingest in ingest_matured_labels(settings, config, period):
            log.info("labels of %s arrived: %d new", ingest.period, ingest.new_labels)
        result = CycleResult(
            model=config.name,
            period=period,
            out_dir=str(out_dir),
            batch=str(current),
            steps=list(steps),
            bootstrapped_version=bootstrapped,
        )
        publication = None
        for number, step in enumerate(steps, start=1):
            log.info("step %d/%d: %s", number, len(steps), step)
            if step == "predict":
                predict_step(settings, config, current, out_dir, engine=engine)
            elif step == "drift":
                result.drift_detected = drift_step(
                    settings, config, current, out_dir, engine=engine
                ).drift_detected
            elif step == "retrain":
                retrain = retrain_step(settings, config, current, out_dir, force=force_retrain)
                result.retrain_decision = retrain.decision
            elif step == "report":
                publication = report_step(settings, config, out_dir, dry_run=dry_run, target=target)
    except Exception as error:
        if not dry_run:
            report_failure(config, period, step, error, target, settings.templates_folder())
        raise
    if publication is not None:
        link = publication.issue.url if publication.issue else None
        send_alert(alert_text(config.name, period, publication.verdict.replace("**", ""), link))
        result.issue_title = publication.title
        result.issue_url = link
        result.pull_url = publication.pull.url if publication.pull else None
    write_json_atomic(out_dir / "cycle.json", to_jsonable(result))
    # The workflow's later jobs run their steps on the same period and batch.
    set_step_outputs({"period": period, "batch": project_relative(current, settings.project_root)})
    return result
