"""``python -m pipeline`` / ``pipeline``: one command per step of the cycle.

Every command takes ``--model``, prints its result as JSON on stdout (progress and log lines go
to stderr), exits 0 whatever the verdict, and on failure prints one line and exits non-zero
(the traceback only with ``--debug``). Heavy libraries are imported inside the commands, so
``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.config import ENGINES, Settings, load_settings, parallel_jobs
from pipeline.errors import DataError, PipelineError, first_line

# The commands that train candidates (hyper-parameter searches, permutation importance).
# Commands that search hyper-parameters, and how many processes they use unless PIPELINE_JOBS
# says: every core, except the backtest, whose many small searches (each month's retrains)
# cost more in handing data to worker processes than a second core gives back (measured here
# back to back: 60.0 s with every core, 48.3 s with one).
TRAINING_COMMANDS = {"train": -1, "retrain": -1, "run": -1, "walkthrough": -1, "backtest": 1}
DRIFT_KINDS = ("none", "covariate", "prediction", "concept", "mixed")
# pipeline.model.scenarios.SCENARIOS, named here so that --help imports no data library.
SCENARIOS = ("stable", "gradual", "sudden", "concept", "seasonal", "prior")

Handler = Callable[[argparse.Namespace, Settings], Any]
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def truth(text: str) -> bool:
    """A flag's optional value, so a workflow can pass its boolean input straight through."""
    if text.strip().lower() in TRUE:
        return True
    if text.strip().lower() in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def add_flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    """``--flag`` alone means true; ``--flag true|false`` takes a workflow input as it is."""
    parser.add_argument(
        name, nargs="?", const=True, default=False, type=truth, metavar="true|false", help=help_text
    )


def _out_dir(args: argparse.Namespace, settings: Settings) -> Path:
    from pipeline.model.periods import current_period

    if getattr(args, "out", None):
        return Path(args.out)
    model = settings.model(args.model).name
    return settings.output_dir_for(model, args.period or current_period())


def cmd_data_generate(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.train import generate_batch

    config = settings.model(args.model)
    rows = args.rows or config.batch_rows
    out = (
        Path(args.out)
        if args.out
        else (
            settings.path(settings.data_dir) / config.name / f"batch-{args.drift}-{args.seed}.csv"
        )
    )
    path = generate_batch(
        settings, config, out, rows, args.seed, args.drift, labels=not args.no_labels
    )
    return {
        "model": config.name,
        "rows": rows,
        "drift": args.drift,
        "seed": args.seed,
        "path": str(path),
    }


def cmd_labels(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.labels import labels_step

    return labels_step(settings, settings.model(args.model), Path(args.file), args.period)


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.backtest import backtest_step

    return backtest_step(
        settings,
        settings.model(args.model),
        Path(args.out),
        scenario=args.scenario,
        months=args.months,
        history=Path(args.history) if args.history else None,
        time_column=args.time_column,
        warmup=args.warmup,
        seed=args.seed,
    )


def cmd_train(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.train import train_step

    data = Path(args.data) if args.data else None
    return train_step(settings, settings.model(args.model), data, seed=args.seed)


def cmd_predict(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.predict import predict_step

    return predict_step(
        settings,
        settings.model(args.model),
        Path(args.input),
        _out_dir(args, settings),
        engine=args.engine,
    )


def cmd_drift(args: argparse.Namespace, settings: Settings) -> Any:
    from datetime import datetime, timezone

    from pipeline.steps.drift import drift_step

    config = settings.model(args.model)
    reference = Path(args.reference) if args.reference else None
    if args.from_log:
        from pipeline.edges.predlog import write_window

        days = 30.0 if args.days is None else args.days
        if days <= 0:
            raise DataError(f"--days must be positive, not {days:g}")
        if not args.out and not args.period:
            # Not the monthly folder: the API's window must not overwrite the batch's drift.json.
            args.period = "api-" + datetime.now(timezone.utc).strftime("%Y-%m-%d")
        out_dir = _out_dir(args, settings)
        current = write_window(settings, config, days, out_dir / "prediction_log_window.parquet")
    else:
        if args.days is not None:
            raise DataError("--days applies to --from-log only")
        out_dir = _out_dir(args, settings)
        current = Path(args.current)
    return drift_step(settings, config, current, out_dir, reference, engine=args.engine)


def cmd_history(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.edges.registry import Registry
    from pipeline.reporting.cards import read_card
    from pipeline.reporting.history import build_history, render_history

    config = settings.model(args.model)
    card = read_card(settings.path(settings.model_cards_dir), config.name)
    history = build_history(Registry(settings, config), card.champion.version)
    # A table is this command's product; the JSON result stays available with --json.
    return history if args.json else render_history(history)


def cmd_card(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.card import card_step

    return card_step(settings, settings.model(args.model), args.model_version)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.config import api_token
    from pipeline.serving.api import DashboardSite, serve
    from pipeline.steps.dashboard import dashboard_step

    models = [settings.model(name) for name in sorted(settings.models)]
    site = DashboardSite(
        settings,
        settings.path(settings.output_dir) / "dashboard-site",
        lambda out: dashboard_step(settings, models, out),
    )
    serve(
        settings,
        settings.model(args.model),
        args.host,
        args.port,
        token=api_token(),
        dashboard=site,
    )
    return {"model": settings.model(args.model).name, "stopped": True}


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.retrain import retrain_step

    return retrain_step(
        settings,
        settings.model(args.model),
        Path(args.current),
        _out_dir(args, settings),
        force=args.force,
    )


def cmd_report(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.model.periods import current_period
    from pipeline.steps.report import report_failure_step, report_step

    config = settings.model(args.model)
    if args.failed_step:
        period = args.period or current_period()
        return report_failure_step(
            config, period, args.failed_step, args.message, None, settings.templates_folder()
        )
    return report_step(settings, config, _out_dir(args, settings), args.dry_run)


def cmd_promote(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.results import set_step_outputs
    from pipeline.steps.promote import event_model, promote_from_event, promote_step

    if args.event:
        # The promotion branch (promote/<model>-v<N>) names the model when --model does not.
        model = args.model or event_model(Path(args.event), settings.models)
        config = settings.model(model)
        if args.print_model:
            # promote.yml's first job: the model names the registry's concurrency group.
            set_step_outputs({"model": config.name})
            return {"model": config.name}
        return promote_from_event(settings, config, Path(args.event), dry_run=args.dry_run)
    config = settings.model(args.model)
    return promote_step(
        settings, config, version=args.model_version, run_id=args.run_id, reason=args.reason
    )


def cmd_walkthrough(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.model.periods import current_period
    from pipeline.walkthrough import run_walkthrough

    names = args.models or sorted(settings.models)
    jobs = args.jobs if args.jobs is not None else min(len(names), os.cpu_count() or 1)
    results = run_walkthrough(
        settings,
        [settings.model(name) for name in names],
        current_period(),
        args.engine,
        jobs,
        # PIPELINE_JOBS holds in the model processes too (the tests' one fit at a time).
        search_jobs=parallel_jobs(default=jobs),
    )
    lines = []
    for result in results:
        outputs = settings.output_dir_for(result.model, "x").parent
        outcome = (
            f"v{result.proposed_version} promoted by the played merge"
            if result.promoted
            else "no promotion"
        )
        lines.append(
            f"{result.model}: world changed in {result.change_period}; {outcome}; issues in "
            f"{outputs}/<period>/issue.md"
        )
    return "\n".join(lines)


def cmd_play_merge(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.promote import play_merge_step

    config = settings.model(args.model)
    return str(play_merge_step(settings, config, _out_dir(args, settings)))


def cmd_sync(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.promote import sync_step

    names = [args.model] if args.model else sorted(settings.models)
    return sync_step(settings, [settings.model(name) for name in names])


def cmd_state(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.config import StateTarget
    from pipeline.model.periods import current_period
    from pipeline.steps.state import state_pull_step, state_push_step, state_status_step

    target = StateTarget.from_env(settings)
    if args.state_command == "status":
        return state_status_step(settings, target)
    if args.state_command == "pull" and args.all:
        from pipeline.errors import ConfigError

        local = settings.tracking_uri.startswith("sqlite:")
        if local and not settings.store_per_model and len(settings.models) > 1:
            raise ConfigError(
                "state pull --all needs a store per model: set "
                "MLFLOW_TRACKING_URI=sqlite:///mlruns-{model}.db"
            )
        return [
            state_pull_step(settings, settings.model(name), target, fresh=args.fresh)
            for name in sorted(settings.models)
        ]
    config = settings.model(args.model)
    if args.state_command == "pull":
        return state_pull_step(settings, config, target, fresh=args.fresh)
    period = args.period or current_period()
    return state_push_step(settings, config, target, period, args.step)


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.dashboard import dashboard_step

    names = args.models or ([args.model] if args.model else sorted(settings.models))
    models = [settings.model(name) for name in names]
    return dashboard_step(settings, models, Path(args.out), open_browser=args.open)


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.promote import rollback_step

    return rollback_step(settings, settings.model(args.model), args.reason)


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.steps.dispatch import dispatch_step

    return dispatch_step(settings, args.workflow, args.ref, dry_run=args.dry_run)


def cmd_run(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.cycle import parse_steps, run_cycle
    from pipeline.model.periods import current_period

    return run_cycle(
        settings,
        settings.model(args.model),
        args.period or current_period(),
        simulate_drift=args.simulate_drift,
        force_retrain=args.force_retrain,
        current=Path(args.current) if args.current else None,
        dry_run=args.dry_run,
        steps=parse_steps(args.steps),
        engine=args.engine,
    )


def _common_options(default: Any) -> argparse.ArgumentParser:
    """--model and --debug, taken before the command or after it."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--model",
        default=default,
        help="model name from [tool.pipeline.models] (default: the configured default_model)",
    )
    options.add_argument(
        "--debug",
        action="store_true",
        default=False if default is None else default,
        help="show tracebacks and warnings",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    # A command's own defaults are suppressed: `pipeline --model sms_spam drift ...` keeps the
    # model given before the command (argparse would otherwise reset it to the command's None).
    common = _common_options(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Driftgate: batch prediction, drift detection, retraining and promotion.",
        parents=[_common_options(None)],
        # Workflows and scripts spell options out: an abbreviation would break when one is added.
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, parents=[common], allow_abbrev=False
        )
        # Commands that search hyper-parameters get PIPELINE_JOBS (joblib, 0.24 s to import,
        # stays out of every other command's start-up).
        sub.set_defaults(handler=handler, search_jobs=TRAINING_COMMANDS.get(name))
        return sub

    def add_engine(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--engine",
            choices=ENGINES,
            help="where batches are scored and sampled (default: the engine setting, pandas)",
        )

    def add_period(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--period", help="period label, e.g. 2026-11 (default: this month)")
        sub.add_argument("--out", help="output folder (default: outputs/<model>/<period>)")

    data = commands.add_parser("data", help="synthetic data", parents=[common], allow_abbrev=False)
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    generate = data_commands.add_parser(
        "generate",
        help="write a reproducible synthetic batch",
        parents=[common],
        allow_abbrev=False,
    )
    generate.set_defaults(handler=cmd_data_generate)
    generate.add_argument("--rows", type=int, help="rows to generate (default: batch_rows)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--drift", choices=DRIFT_KINDS, default="none")
    generate.add_argument("--no-labels", action="store_true", help="leave out the target column")
    generate.add_argument("--out", help="file to write (.csv or .parquet)")

    train = add("train", cmd_train, "train candidates, register the best version in MLflow")
    train.add_argument("--data", help="labelled training batch (default: synthetic)")
    train.add_argument("--seed", type=int, default=0)

    predict = add("predict", cmd_predict, "score a batch with the champion")
    predict.add_argument(
        "--input", required=True, help="batch: .csv or .parquet file, or a folder of Parquet parts"
    )
    add_period(predict)
    add_engine(predict)

    drift = add("drift", cmd_drift, "detect feature, prediction and concept drift")
    source = drift.add_mutually_exclusive_group(required=True)
    source.add_argument("--current", help="current batch file")
    source.add_argument(
        "--from-log", action="store_true", help="what the API scored (the prediction log) instead"
    )
    drift.add_argument(
        "--days", type=float, help="with --from-log: the window, in days (default 30)"
    )
    drift.add_argument("--reference", help="reference batch (default: champion's training data)")
    add_period(drift)
    add_engine(drift)

    retrain = add("retrain", cmd_retrain, "retrain when the policy says so and compare")
    retrain.add_argument("--current", required=True, help="current (labelled) batch file")
    add_flag(retrain, "--force", "retrain whatever the policy says")
    add_period(retrain)

    report = add("report", cmd_report, "render the drift issue from the JSON results")
    add_flag(report, "--dry-run", "print instead of publishing")
    report.add_argument(
        "--failed-step", help="report that this step of the period's run failed, instead"
    )
    report.add_argument(
        "--message", default="see the workflow run's log", help="what failed (with --failed-step)"
    )
    add_period(report)

    promote = add("promote", cmd_promote, "re-check the gates and move the champion alias")
    which = promote.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-version", type=int, help="registry version to promote")
    which.add_argument("--run-id", help="MLflow run that trained the version to promote")
    which.add_argument(
        "--event", help="pull_request event JSON of a closed PR ($GITHUB_EVENT_PATH)"
    )
    promote.add_argument("--reason", default="manual promotion")
    add_flag(promote, "--dry-run", "with --event: print the PR comment, do not post")
    promote.add_argument(
        "--print-model",
        action="store_true",
        help="with --event: print the model the promotion branch names, and stop",
    )

    merge = add(
        "play-merge",
        cmd_play_merge,
        "dry runs: play the merge of a period's promotion PR locally (its card into "
        "model_cards_dir, the event GitHub would send); prints the event for promote --event",
    )
    add_period(merge)

    labels = add("labels", cmd_labels, "ingest late labels: the period's realized performance")
    labels.add_argument("--file", required=True, help="ids and labels (.csv or .parquet)")
    labels.add_argument(
        "--period", help="the period they belong to (default: the one that scored their ids)"
    )

    backtest = add("backtest", cmd_backtest, "replay the retrain policies on a history")
    replayed = backtest.add_mutually_exclusive_group(required=True)
    replayed.add_argument("--scenario", choices=SCENARIOS, help="a synthetic history")
    replayed.add_argument("--history", help="your dated, labelled history (.csv or .parquet)")
    backtest.add_argument("--months", type=int, default=24, help="with --scenario (default 24)")
    backtest.add_argument("--time-column", help="with --history: the column dating each row")
    backtest.add_argument(
        "--warmup", type=int, default=3, help="with --history: months training the first champion"
    )
    backtest.add_argument("--seed", type=int, default=0)
    backtest.add_argument("--out", required=True, help="folder for backtest.json and backtest.md")

    add("sync", cmd_sync, "make the registry's champions match the model cards")

    state = commands.add_parser(
        "state",
        help="keep the registry, outputs and data on a git branch between runs",
        parents=[common],
        allow_abbrev=False,
    )
    state_commands = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)

    def add_state(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = state_commands.add_parser(
            name, help=help_text, description=help_text, parents=[common], allow_abbrev=False
        )
        sub.set_defaults(handler=cmd_state)
        return sub

    pull = add_state("pull", "restore the model's state from the state branch (before a job)")
    pull.add_argument(
        "--fresh", action="store_true", help="start the model anew on purpose: restore nothing"
    )
    pull.add_argument(
        "--all",
        action="store_true",
        help="every configured model (with a store per model: sqlite:///mlruns-{model}.db)",
    )
    push = add_state("push", "save the model's state to the state branch (after a job)")
    push.add_argument("--period", help="the period this run worked on (default: this month)")
    push.add_argument("--step", default="state push", help="what the run did, for the commit")
    add_state("status", "what the state branch holds, per model (reads, restores nothing)")

    dashboard = add("dashboard", cmd_dashboard, "a static site: every model's drift and decisions")
    dashboard.add_argument(
        "--models", nargs="+", metavar="NAME", help="the models to show (default: all)"
    )
    dashboard.add_argument("--out", default="site", help="folder for the site (default: site)")
    dashboard.add_argument("--open", action="store_true", help="open it in a browser")

    rollback = add("rollback", cmd_rollback, "champion := previous")
    rollback.add_argument("--reason", default="manual rollback")

    run = add("run", cmd_run, "the whole monthly cycle, as the workflow runs it")
    run.add_argument("--period", help="period label (default: this month)")
    run.add_argument("--current", help="current batch (default: synthetic for the period)")
    add_flag(run, "--simulate-drift", "generate a drifted batch")
    add_flag(run, "--force-retrain", "retrain whatever the policy says")
    add_flag(run, "--dry-run", "do not call GitHub")
    run.add_argument(
        "--steps",
        default="predict,drift,retrain,report",
        help="comma-separated part of the cycle to run (default: all four steps)",
    )
    add_engine(run)

    walkthrough = add(
        "walkthrough",
        cmd_walkthrough,
        "dry run: each model's loop closed once (ordinary months, a changed world, its "
        "recovery, the played merge): what scripts/cycle.sh runs",
    )
    walkthrough.add_argument("--models", nargs="+", help="default: every configured model")
    walkthrough.add_argument(
        "--jobs",
        type=int,
        help="models run side by side in this many processes (default: one per core)",
    )
    add_engine(walkthrough)

    history = add("history", cmd_history, "versions, aliases, promotions and drift, newest first")
    history.add_argument("--json", action="store_true", help="the history as JSON, not a table")

    dispatch = add("dispatch", cmd_dispatch, "start a workflow once for every configured model")
    dispatch.add_argument("--workflow", default="monthly.yml", help="workflow file to start")
    dispatch.add_argument("--ref", help="branch to run it on (default: the default branch)")
    add_flag(dispatch, "--dry-run", "print the dispatches instead of making them")

    card = add("card", cmd_card, "regenerate the model card's generated sections from MLflow")
    card.add_argument(
        "--model-version", type=int, help="describe this version (default: the card's champion)"
    )

    serve = add("serve", cmd_serve, "HTTP API serving the champion; logs every prediction")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (0.0.0.0 in a container)"
    )
    serve.add_argument("--port", type=int, default=8000)
    return parser


def _training_cores(default: int | None) -> contextlib.AbstractContextManager[Any]:
    """How many processes the searches of a training command use (``PIPELINE_JOBS``, else
    the command's ``default``); None: not a training command."""
    if default is None:
        return contextlib.nullcontext()
    from joblib import parallel_config

    return parallel_config(n_jobs=parallel_jobs(default=default))  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not args.debug:
        warnings.filterwarnings("ignore")
    try:
        settings = load_settings()
        # stdout carries the JSON result only: libraries' own prints (MLflow's "View run at"
        # lines against a tracking server) go to stderr with the log.
        with (
            contextlib.redirect_stdout(sys.stderr),
            _training_cores(getattr(args, "search_jobs", None)),
        ):
            result = args.handler(args, settings)
    except PipelineError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for people, the traceback with --debug
        if args.debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {first_line(exc)} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return 1
    from pipeline.results import to_jsonable

    print(result if isinstance(result, str) else json.dumps(to_jsonable(result), indent=2))
    return 0
