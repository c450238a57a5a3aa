"""Settings: one ``[tool.pipeline]`` section in pyproject.toml, each key overridable by env.

Global keys are overridden by ``PIPELINE_<KEY>`` (``MLFLOW_TRACKING_URI`` for the tracking URI,
as MLflow users expect); per-model keys and thresholds by ``PIPELINE_<MODEL>_<KEY>``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

# "text": free text (a message, a statement), validated as a non-empty string of at most
# max_length characters; models read it through TF-IDF, drift looks at its words and style.
COLUMN_KINDS = ("numeric", "categorical", "text")
DEFAULT_TEXT_MAX_LENGTH = 5000
# "sensitive": validated and kept for the fairness report, but never an input of the model.
COLUMN_ROLES = ("feature", "target", "id", "passthrough", "sensitive")
FAIRNESS_RATES = ("selection_rate", "tpr", "fpr")
SCHEMA_KEYS = {"kind", "dtype", "role", "levels", "min", "max", "max_length"}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a model's table: its schema, plus how the synthetic generator draws it."""

    name: str
    kind: str
    dtype: str = "float"
    role: str = "feature"
    levels: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = None  # text columns: longer values are rejected rows
    synth: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    feature_alpha: float = 0.05
    drift_share: float = 0.3
    prediction_alpha: float = 0.01
    drift_sample_rows: int = 20000
    max_metric_drop: float = 0.05
    min_new_labels: int = 200
    max_model_age_days: int = 180
    min_roc_auc: float = 0.70
    min_f1: float = 0.30
    min_improvement: float = 0.005
    min_fairness_ratio: float = 0.8
    # What drift alone retrains on: "dataset" (the drifted share reaches drift_share) or
    # "feature" (any detected drift). Performance drops, realized or estimated, retrain
    # either way. Chosen by the backtest (docs/monitoring.md): on 24 "sudden" months "feature"
    # retrained 12 times for the same mean ROC AUC that performance drops reached with 3.
    drift_trigger: str = "dataset"
    # A challenger is proposed only when the paired test on the comparison rows (DeLong for
    # ROC AUC) says it is better with at least this probability, besides min_improvement.
    # 0 turns the test off (the point estimate alone decides). Chosen by the backtest and the
    # simulated pairs of bench/promotion.py (docs/recovery.md, "Promotion with confidence").
    promotion_confidence: float = 0.975
    # Recency weighting of the "weighted" training window: a month's rows count half as much
    # as those of the month after it when this is 1 (docs/recovery.md).
    recency_half_life_months: float = 2.0


@dataclass(frozen=True)
class FairnessConfig:
    """Which attributes the fairness report covers and which of them the promotion gate checks.

    The gate asks, for every ``gate_attributes`` entry, that the smallest group's ``gate_metric``
    be at least ``Thresholds.min_fairness_ratio`` of the largest group's.
    """

    attributes: tuple[str, ...] = ()
    bands: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    gate_attributes: tuple[str, ...] = ()
    gate_metric: str = "selection_rate"
    min_group_rows: int = 30
    # 0: the plain rule (ratio >= min_fairness_ratio). 0.95: fail only when the ratio is below
    # the minimum with 95% confidence, so sampling noise on a few hundred rows does not refuse
    # a fair model; the report shows both the ratio and its upper bound.
    gate_confidence: float = 0.0

    def bands_for(self, attribute: str) -> tuple[float, ...]:
        return tuple(self.bands.get(attribute, ()))


@dataclass(frozen=True)
class ModelConfig:
    name: str
    target: str
    positive_class: str
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    candidates: tuple[str, ...] = ("logistic_regression", "random_forest", "hist_gradient_boosting")
    primary_metric: str = "roc_auc"
    cv_folds: int = 3
    search_iterations: int = 4
    decision_threshold: float = 0.5
    training_rows: int = 4000
    batch_rows: int = 2000
    # Months after a batch before its labels arrive (0: they come with it). The cycle ingests
    # each period's label file once it has matured, and retrains on matured periods only.
    label_delay_months: int = 0
    # Matured periods a challenger may learn from, most recent first (beside the champion's
    # own training data); the newest of them is held out to compare challenger and champion.
    training_window_months: int = 12
    thresholds: Thresholds = field(default_factory=Thresholds)
    synthetic: Mapping[str, Any] = field(default_factory=dict)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)

    def columns_with_role(self, role: str) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role == role]

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns_with_role("feature")]

    @property
    def numeric_features(self) -> list[str]:
        return [c.name for c in self.columns_with_role("feature") if c.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.columns_with_role("feature") if c.kind == "categorical"]

    @property
    def text_features(self) -> list[str]:
        return [c.name for c in self.columns_with_role("feature") if c.kind == "text"]

    @property
    def text_only(self) -> bool:
        """Every input is text: per-feature importance and group fairness do not apply."""
        return bool(self.features) and len(self.text_features) == len(self.features)

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise ConfigError(f"model '{self.name}' has no column '{name}'")


# Where batches are scored and sampled (pipeline.model.engine, pipeline.edges.spark).
ENGINES = ("pandas", "spark")


@dataclass(frozen=True)
class Settings:
    project_root: Path
    default_model: str = "attrition"
    mlflow_tracking_uri: str = "sqlite:///mlruns.db"
    mlflow_artifact_root: str = "mlartifacts"
    output_dir: str = "outputs"
    model_cards_dir: str = "model_cards"
    data_dir: str = "data"
    # A folder of Jinja2 templates that replace the package's own, file by file (issue.md.j2,
    # pull.md.j2, failure.md.j2, banner.html.j2); empty: the package's.
    templates_dir: str = ""
    predict_chunk_rows: int = 100000
    # Where batches are scored and sampled: "pandas" (this machine, in chunks) or "spark".
    engine: str = "pandas"
    # The spark engine's master: "" is local mode on every core (local[*]); spark://..., yarn,
    # k8s://... name a cluster. Spark Connect's SPARK_REMOTE, when set, wins over it.
    spark_master: str = ""
    # Where a remote session (SPARK_REMOTE) writes predictions, as a URI the cluster can write
    # (s3://bucket/driftgate); <model>/<period>/predictions.parquet goes under it. Local mode
    # writes them in the period's output folder.
    spark_predictions_uri: str = ""
    # Spark Connect's URL (sc://host:15002/;token=...), from SPARK_REMOTE: the spark engine's
    # session is then remote.
    spark_remote: str = ""
    prediction_log_url: str = ""
    serve_reload_seconds: float = 10.0
    serve_max_records: int = 10000  # records per request; more is a 413
    serve_max_body_mb: float = 50.0  # request body size; more is a 413
    # Concurrent requests wait at most this long to be scored together (0: never batch).
    serve_batch_window_ms: float = 2.0
    # The API scores each request with the kept challenger too (the shadow) and logs both
    # scores; the answer is the champion's. Off by default: it doubles the scoring work.
    serve_shadow: bool = False
    # Durable state without a server (``pipeline state pull|push``): a branch of a Git remote.
    state_remote: str = ""  # any git URL; empty: the workflow's repository, else origin
    state_branch: str = "driftgate-state"
    state_dir: str = ".driftgate/state"  # the local clone of that branch
    state_prune_days: int = 90  # artifacts of unnamed versions and old runs older than this go
    state_history_commits: int = 60  # older commits of the branch are squashed into one
    state_warn_mb: float = 100.0
    models: Mapping[str, ModelConfig] = field(default_factory=dict)

    def model(self, name: str | None) -> ModelConfig:
        chosen = name or self.default_model
        if chosen not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise ConfigError(f"unknown model '{chosen}' (configured models: {known})")
        return self.models[chosen]

    def templates_folder(self) -> str:
        """The fork's templates folder, resolved; "" for the package's own templates."""
        return str(self.path(self.templates_dir)) if self.templates_dir else ""

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the project root (absolute paths stay as they are)."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.project_root / candidate

    def card_repo_path(self, model: str) -> str:
        """The model card's path inside the Git repository (for the promotion PR)."""
        folder = Path(self.model_cards_dir)
        if folder.is_absolute():
            try:
                folder = folder.relative_to(self.project_root)
            except ValueError:
                folder = Path("model_cards")
        return (folder / f"{model}.md").as_posix()

    def output_dir_for(self, model: str, period: str) -> Path:
        return self.path(self.output_dir) / model / period

    @property
    def tracking_uri(self) -> str:
        """The tracking URI with a relative SQLite path anchored at the project root."""
        return self._anchored(self.mlflow_tracking_uri)

    def tracking_uri_for(self, model: str) -> str:
        """``model``'s tracking URI: a ``{model}`` in the setting names a store per model
        (``sqlite:///mlruns-{model}.db``), so one checkout can hold every model's state."""
        return self._anchored(self.mlflow_tracking_uri.replace("{model}", model))

    @property
    def store_per_model(self) -> bool:
        return "{model}" in self.mlflow_tracking_uri

    @property
    def prediction_log(self) -> str:
        """The prediction log's database URL (default: SQLite in the output folder)."""
        if not self.prediction_log_url:
            return f"sqlite:///{(self.path(self.output_dir) / 'prediction_log.db').resolve()}"
        return self._anchored(self.prediction_log_url)

    def _anchored(self, uri: str) -> str:
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(self.project_root / uri[len(prefix) :])
        return uri


def find_pyproject(start: Path | None = None) -> Path:
    """The pyproject.toml named by PIPELINE_CONFIG, or the nearest one holding [tool.pipeline]."""
    explicit = os.environ.get("PIPELINE_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"PIPELINE_CONFIG points to {path}, which does not exist")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.pipeline" in candidate.read_text(encoding="utf-8"):
            return candidate
    raise ConfigError(
        f"no pyproject.toml with a [tool.pipeline] section in {here} or above; "
        "run from the repository or set PIPELINE_CONFIG"
    )


def load_settings(
    pyproject: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    path = pyproject or find_pyproject()
    env = os.environ if environ is None else environ
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    section = document.get("tool", {}).get("pipeline")
    if not isinstance(section, dict):
        raise ConfigError(f"{path} has no [tool.pipeline] section")

    globals_ = {k: v for k, v in section.items() if k != "models"}
    globals_ = _override(globals_, Settings, "PIPELINE_", env, skip={"project_root", "models"})
    if "MLFLOW_TRACKING_URI" in env and env["MLFLOW_TRACKING_URI"]:
        globals_["mlflow_tracking_uri"] = env["MLFLOW_TRACKING_URI"]
    if env.get("DATABASE_URL"):
        globals_["prediction_log_url"] = env["DATABASE_URL"]
    if env.get("SPARK_REMOTE"):
        globals_["spark_remote"] = env["SPARK_REMOTE"]
    unknown = set(globals_) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown setting(s) in [tool.pipeline]: {', '.join(sorted(unknown))}")

    if globals_.get("engine", Settings.engine) not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {globals_['engine']!r}")

    raw_models = section.get("models", {})
    if not raw_models:
        raise ConfigError(f"{path} defines no model under [tool.pipeline.models.<name>]")
    models = {name: _parse_model(name, raw, env) for name, raw in raw_models.items()}
    return Settings(project_root=path.parent.resolve(), models=models, **globals_)


def _parse_model(name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> ModelConfig:
    where = f"[tool.pipeline.models.{name}]"
    prefix = f"PIPELINE_{name.upper()}_"
    raw_thresholds = dict(raw.get("thresholds", {}))
    unknown = set(raw_thresholds) - {f.name for f in dataclasses.fields(Thresholds)}
    if unknown:
        raise ConfigError(f"unknown threshold(s) in {where}: {', '.join(sorted(unknown))}")
    thresholds = Thresholds(**_override(raw_thresholds, Thresholds, prefix, env))

    raw_columns = raw.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise ConfigError(f"{where} has no [columns] table")
    columns = tuple(_parse_column(name, col, spec) for col, spec in raw_columns.items())

    scalars = {
        k: v
        for k, v in raw.items()
        if k not in {"thresholds", "columns", "synthetic", "candidates", "fairness"}
    }
    scalars = _override(
        scalars,
        ModelConfig,
        prefix,
        env,
        skip={"name", "columns", "thresholds", "synthetic", "candidates", "fairness"},
    )
    candidates = (
        tuple(env.get(prefix + "CANDIDATES", "").split(","))
        if env.get(prefix + "CANDIDATES")
        else tuple(raw.get("candidates", ModelConfig.candidates))
    )
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = set(scalars) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where}: {', '.join(sorted(unknown))}")
    if "target" not in scalars or "positive_class" not in scalars:
        raise ConfigError(f"{where} needs 'target' and 'positive_class'")
    config = ModelConfig(
        name=name,
        columns=columns,
        thresholds=thresholds,
        synthetic=raw.get("synthetic", {}),
        candidates=candidates,
        fairness=_parse_fairness(where, raw.get("fairness", {}), columns),
        **scalars,
    )
    targets = config.columns_with_role("target")
    if len(targets) != 1 or targets[0].name != config.target:
        raise ConfigError(
            f"{where}: exactly one column must have role 'target', named {config.target}"
        )
    if config.positive_class not in targets[0].levels:
        raise ConfigError(
            f"{where}: positive_class '{config.positive_class}' is not a level of {config.target}"
        )
    if not config.features:
        raise ConfigError(f"{where} has no feature columns")
    return config


def _parse_fairness(
    where: str, raw: Mapping[str, Any], columns: tuple[ColumnSpec, ...]
) -> FairnessConfig:
    where = f"{where[:-1]}.fairness]"
    known = {f.name for f in dataclasses.fields(FairnessConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where}: {', '.join(sorted(unknown))}")
    names = {c.name for c in columns}
    attributes = tuple(str(a) for a in raw.get("attributes", ()))
    gated = tuple(str(a) for a in raw.get("gate_attributes", ()))
    for attribute in (*attributes, *gated):
        if attribute not in names:
            raise ConfigError(f"{where}: '{attribute}' is not a column of the model")
    stray = [a for a in gated if a not in attributes]
    if stray:
        raise ConfigError(f"{where}: gate attribute(s) {', '.join(stray)} not in 'attributes'")
    metric = str(raw.get("gate_metric", "selection_rate"))
    if metric not in FAIRNESS_RATES:
        raise ConfigError(f"{where}: gate_metric must be one of {', '.join(FAIRNESS_RATES)}")
    confidence = float(raw.get("gate_confidence", 0.0))
    if confidence not in (0.0, 0.95):
        raise ConfigError(f"{where}: gate_confidence must be 0 (plain ratio) or 0.95")
    bands = raw.get("bands", {})
    for attribute, edges in bands.items():
        if attribute not in attributes or not all(isinstance(e, (int, float)) for e in edges):
            raise ConfigError(f"{where}: bands.{attribute} must be numbers for a listed attribute")
    return FairnessConfig(
        attributes=attributes,
        bands={str(k): tuple(float(e) for e in v) for k, v in bands.items()},
        gate_attributes=gated,
        gate_metric=metric,
        min_group_rows=int(raw.get("min_group_rows", 30)),
        gate_confidence=confidence,
    )


def _parse_column(model: str, name: str, raw: Mapping[str, Any]) -> ColumnSpec:
    where = f"[tool.pipeline.models.{model}.columns] {name}"
    kind = raw.get("kind")
    if kind not in COLUMN_KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(COLUMN_KINDS)}")
    role = raw.get("role", "feature")
    if role not in COLUMN_ROLES:
        raise ConfigError(f"{where}: role must be one of {', '.join(COLUMN_ROLES)}")
    levels = tuple(str(level) for level in raw.get("levels", ()))
    if kind == "categorical" and not levels:
        raise ConfigError(f"{where}: a categorical column needs its levels")
    dtype = raw.get("dtype", "float" if kind == "numeric" else "str")
    max_length = raw.get("max_length")
    if kind == "text":
        max_length = int(DEFAULT_TEXT_MAX_LENGTH if max_length is None else max_length)
        if max_length <= 0 or role not in ("feature", "passthrough"):
            raise ConfigError(f"{where}: a text column is a feature with a positive max_length")
    elif max_length is not None:
        raise ConfigError(f"{where}: max_length applies to text columns only")
    return ColumnSpec(
        name=name,
        kind=kind,
        dtype=dtype,
        role=role,
        levels=levels,
        min=raw.get("min"),
        max=raw.get("max"),
        max_length=max_length,
        synth={k: v for k, v in raw.items() if k not in SCHEMA_KEYS},
    )


def _override(
    values: Mapping[str, Any],
    cls: type,
    prefix: str,
    env: Mapping[str, str],
    skip: set[str] | None = None,
) -> dict[str, Any]:
    """Apply ``<prefix><KEY>`` environment overrides, coerced to the field's declared type."""
    result = dict(values)
    for f in dataclasses.fields(cls):
        if skip and f.name in skip:
            continue
        key = prefix + f.name.upper()
        if key not in env:
            continue
        text = env[key]
        default = result.get(f.name, f.default)
        try:
            result[f.name] = _coerce(text, default)
        except ValueError:
            raise ConfigError(f"{key}={text!r} is not a valid {type(default).__name__}") from None
    return result


def _coerce(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in {"1", "true", "yes", "on"}:
            return True
        if text.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(text)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


@dataclass(frozen=True)
class GitHubTarget:
    """Where and how to reach GitHub, from the environment a workflow provides.

    Read here, with the rest of the configuration: the layers below take it as an argument.
    """

    repository: str | None
    token: str | None = None
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    run_id: str | None = None
    retries: int = 5
    backoff: float = 1.0
    max_wait: float = 120.0
    write_interval: float = 1.0
    # Every wait (backoff, Retry-After, a rate limit's reset) is multiplied by this: 1 in real
    # use; tests against the local fake scale them down so a soak of faults runs in seconds.
    wait_scale: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitHubTarget:
        env = os.environ if environ is None else environ

        def number(key: str, default: float) -> float:
            raw = env.get(key)
            if not raw:
                return default
            try:
                return float(raw)
            except ValueError:
                raise ConfigError(f"{key}={raw!r} is not a number") from None

        return cls(
            repository=env.get("GITHUB_REPOSITORY") or None,
            token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
            api_url=(env.get("GITHUB_API_URL") or cls.api_url).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or cls.server_url).rstrip("/"),
            run_id=env.get("GITHUB_RUN_ID") or None,
            retries=int(number("PIPELINE_GITHUB_RETRIES", cls.retries)),
            backoff=number("PIPELINE_GITHUB_BACKOFF", cls.backoff),
            max_wait=number("PIPELINE_GITHUB_MAX_WAIT", cls.max_wait),
            write_interval=number("PIPELINE_GITHUB_WRITE_INTERVAL", cls.write_interval),
            wait_scale=number("PIPELINE_GITHUB_WAIT_SCALE", cls.wait_scale),
        )

    @property
    def run_url(self) -> str | None:
        if self.repository and self.run_id:
            return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return None

    def require(self) -> None:
        """Fail before any work when publishing is impossible (the check runs first)."""
        if not self.token:
            raise ConfigError(
                "GITHUB_TOKEN is not set: export a token with issues and pull-requests write "
                "access, or pass --dry-run"
            )
        if not self.repository or "/" not in self.repository:
            raise ConfigError(
                f"GITHUB_REPOSITORY must be owner/name (got {self.repository!r}), or pass --dry-run"
            )


@dataclass(frozen=True)
class StateTarget:
    """Where ``pipeline state`` keeps the durable state: a branch of a Git remote.

    ``url`` empty means the checkout's own ``origin``. On GitHub Actions the default is the
    workflow's repository, reached with the job's token as an HTTP header (never in the URL,
    so it cannot leak into a log or a remote's config).
    """

    url: str
    branch: str
    auth_header: str | None = None
    run_label: str = "a local run"
    run_url: str | None = None

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> StateTarget:
        import base64

        env = os.environ if environ is None else environ
        github = GitHubTarget.from_env(env)
        url = settings.state_remote
        if not url and github.repository:
            url = f"{github.server_url}/{github.repository}.git"
        header = None
        if github.token and url.startswith(github.server_url + "/"):
            pair = base64.b64encode(f"x-access-token:{github.token}".encode()).decode()
            header = f"AUTHORIZATION: basic {pair}"
        label = "a local run"
        if github.run_id:
            workflow = env.get("GITHUB_WORKFLOW", "workflow")
            job = env.get("GITHUB_JOB", "")
            label = f"{workflow} run {github.run_id}" + (f" ({job})" if job else "")
        return cls(url, settings.state_branch, header, label, github.run_url)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child process (git): this process's own, with ``extra`` on top."""
    return {**os.environ, **extra}


def api_token(environ: Mapping[str, str] | None = None) -> str | None:
    """``PIPELINE_API_TOKEN`` (a secret, never in pyproject.toml), or None when unset."""
    env = os.environ if environ is None else environ
    return env.get("PIPELINE_API_TOKEN", "").strip() or None


def alert_webhook_url(environ: Mapping[str, str] | None = None) -> str:
    """The chat webhook (``ALERT_WEBHOOK_URL``, a secret), or "" when alerts are off."""
    env = os.environ if environ is None else environ
    return env.get("ALERT_WEBHOOK_URL", "").strip()


def failpoint_settings(environ: Mapping[str, str] | None = None) -> tuple[str, int | None]:
    """The crash tests' two settings (``pipeline.edges.failpoints``): the file that lists each
    failpoint passed (``DRIFTGATE_FAILPOINT_LOG``, "" for none) and the point to die at
    (``DRIFTGATE_KILL_AT``, None for none). Unset in every real run."""
    env = os.environ if environ is None else environ
    kill_at = env.get("DRIFTGATE_KILL_AT", "").strip()
    return env.get("DRIFTGATE_FAILPOINT_LOG", ""), int(kill_at) if kill_at else None


def parallel_jobs(environ: Mapping[str, str] | None = None, default: int = -1) -> int:
    """How many processes a command's model searches use (``PIPELINE_JOBS``, else ``default``;
    -1: every core)."""
    env = os.environ if environ is None else environ
    text = env.get("PIPELINE_JOBS", "").strip() or str(default)
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs == 0 or jobs < -1:
        raise ConfigError(f"PIPELINE_JOBS={text!r} is not a number of processes (or -1: all)")
    return jobs


def step_outputs_file(environ: Mapping[str, str] | None = None) -> str | None:
    """The file GitHub Actions reads step outputs from (``GITHUB_OUTPUT``); None outside one."""
    env = os.environ if environ is None else environ
    return env.get("GITHUB_OUTPUT") or None


# MLflow reads its client settings from the environment only; these are Driftgate's defaults.
MLFLOW_CLIENT_DEFAULTS = {
    # MLflow's own HTTP retries take minutes to give up on a server that is down.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def apply_mlflow_client_defaults() -> None:
    """Set MLflow's client settings that the user has not set (before the client is created)."""
    for key, value in MLFLOW_CLIENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
