"""The MLflow edge: tracking runs, the model registry and its aliases.

Aliases replace the deprecated registry stages: ``champion`` serves, ``challenger`` is the latest
candidate, ``previous`` is the champion before the last promotion (what ``rollback`` restores).
"""

from __future__ import annotations

import json
import logging
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import ModelConfig, Settings, apply_mlflow_client_defaults
from pipeline.edges import failpoints
from pipeline.errors import RegistryError, first_line
from pipeline.model.engine import ScoringModel
from pipeline.monitoring.estimation import ESTIMATION_ARTIFACT
from pipeline.monitoring.fairness import FAIRNESS_ARTIFACT
from pipeline.monitoring.importance import IMPORTANCE_ARTIFACT
from pipeline.monitoring.retention import StoredRun, StoredVersion
from pipeline.results import to_jsonable

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.model.train import TrainOutcome

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
REFERENCE_ARTIFACT = "reference/reference.parquet"
# Types skops does not trust by default but our candidates' fitted models hold: OneHotEncoder
# keeps its output dtype; random forests and histogram gradient boosting keep their trees.
SKOPS_TRUSTED_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # The text models' calibrated linear SVM (sigmoid calibration per fold).
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)
# What a logged model needs to load and score, pinned to the versions it was trained with.
# Stated, not inferred: MLflow's inference loads the model in a subprocess (8 s of a 12 s log)
# and lists whatever that process imported (it listed pytest and rich).
# MLflow as mlflow-skinny: the client is all that loading a model needs, and what Driftgate's
# runtime installs (the full package, when installed too, has the same version).
MODEL_REQUIREMENTS = ("mlflow-skinny", "numpy", "pandas", "scikit-learn", "scipy", "skops")


def model_requirements() -> list[str]:
    """``name==version`` for each of ``MODEL_REQUIREMENTS`` as installed here."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


# The MLflow dataset digest of the rows a version learned from (the card lists it).
TRAINING_DIGEST_TAG = "driftgate.training_digest"


@dataclass(frozen=True)
class DatasetInput:
    """Rows a run learned from, was judged on or scored, for MLflow's dataset tracking.

    With ``frame`` (the rows as used) MLflow computes the digest, schema and row count; without
    it (a batch streamed from disk, never in memory whole) ``digest`` is the file's SHA-256.
    ``source`` is the file or URI the rows came from; rows assembled in memory (a training set
    of several months, a held-out split) have none, and ``description`` says what they are.
    """

    name: str
    context: str  # "training", "evaluation" or "scoring", as MLflow's UI groups them
    source: str = ""
    description: str = ""
    frame: pd.DataFrame | None = None
    digest: str = ""


def log_dataset_inputs(inputs: list[DatasetInput]) -> dict[str, str]:
    """Log each input to the active MLflow run; returns each name's digest."""
    import warnings

    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset import Dataset
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.pandas_dataset import from_pandas

    digests = {}
    for item in inputs:
        if item.source:
            with warnings.catch_warnings():
                # MLflow warns when more than one source type could read a path; any will do.
                warnings.simplefilter("ignore")
                source = resolve_dataset_source(item.source)
        else:
            source = CodeDatasetSource({"driftgate.rows": item.description or item.name})
        dataset: Dataset
        if item.frame is not None:
            dataset = from_pandas(item.frame, source=source, name=item.name)
        else:
            # Concrete at run time (its profile is None); MLflow's annotations leave it abstract.
            dataset = MetaDataset(  # type: ignore[abstract]
                # MLflow keeps at most 36 characters of a digest.
                source=source,
                name=item.name,
                digest=item.digest[:32] or None,
            )
        mlflow.log_input(dataset, context=item.context)
        digests[item.name] = dataset.digest
    return digests


# Models loaded in this process, by tracking URI, name, version and run: a registered version
# never changes, and one cycle loads the champion in several steps (predict, drift, retrain).
_LOADED: dict[tuple[str, str, int, str], Any] = {}


# Where a version's training rows came from, oldest first, e.g.
# "training.parquet: 1470 rows; 2026-11: 500 labelled rows".
TRAINING_DATA_TAG = "driftgate.training_data"


@dataclass
class ModelVersionInfo:
    model: str
    version: int
    run_id: str
    aliases: list[str]
    created_at: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # the version's (decisions, promotions)
    params: dict[str, str] = field(default_factory=dict)  # its training run's
    run_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class AliasMove:
    """What a promote or rollback did to the aliases."""

    model: str
    champion: int
    previous: int | None
    changed: bool
    message: str


class Registry:
    """MLflow tracking and registry for one model; every MLflow failure becomes a RegistryError."""

    def __init__(self, settings: Settings, config: ModelConfig) -> None:
        self.settings = settings
        self.config = config
        self.name = config.name
        self.experiment = f"driftgate-{config.name}"
        self._client: Any = None

    # -- connection -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        uri = self.settings.tracking_uri_for(self.name)
        apply_mlflow_client_defaults()
        if uri.startswith(("http://", "https://")):
            _check_reachable(uri)
        import mlflow
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # uv's environments have no pip; MLflow warns that it cannot pin pip's version in the
        # model's conda.yaml, which the stated pip_requirements make moot.
        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            if client.get_experiment_by_name(self.experiment) is None:
                location = None
                if uri.startswith("sqlite:"):
                    root = self.settings.path(self.settings.mlflow_artifact_root)
                    location = (root / self.experiment).resolve().as_uri()
                client.create_experiment(self.experiment, artifact_location=location)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure is reported in one line
            raise RegistryError(f"MLflow at {uri} failed: {first_line(exc)}") from exc
        mlflow.set_experiment(self.experiment)
        return client

    # -- training ---------------------------------------------------------------------------
    def log_training(
        self,
        outcome: TrainOutcome,
        training_frame: pd.DataFrame,
        reason: str,
        tags: dict[str, str] | None = None,
        evaluation: DatasetInput | None = None,
    ) -> ModelVersionInfo:
        """Log a training run, register its model, set ``challenger`` (``champion`` if none).

        MLflow's dataset tracking records the training rows and, when given, the rows the
        version was compared with its champion on (``evaluation``).
        """
        import mlflow
        import pandas as pd
        from mlflow.models import infer_signature

        from pipeline.monitoring.performance import positive_scores

        self.client  # connect first so the experiment exists
        features = training_frame[self.config.features]
        example = features.head(5)
        signature = infer_signature(example, positive_scores(outcome.model, example))
        try:
            with mlflow.start_run(run_name=f"train-{self.name}") as run:
                mlflow.set_tags(
                    {
                        "driftgate.step": "train",
                        "driftgate.model": self.name,
                        "driftgate.reason": reason,
                        **(tags or {}),
                    }
                )
                mlflow.log_params(
                    {
                        "estimator": outcome.estimator_name,
                        "train_rows": outcome.train_rows,
                        "test_rows": outcome.test_rows,
                        "candidates": ",".join(c.name for c in outcome.candidates),
                        **{f"best.{k}": v for k, v in outcome.best_params.items()},
                    }
                )
                # The rows as they came: no label flag, no recency weight.
                kept = [c for c in training_frame.columns if c not in ("__label__", "__weight__")]
                training_input = DatasetInput(
                    name=f"{self.name}-training",
                    context="training",
                    description=(tags or {}).get(TRAINING_DATA_TAG, "") or "training rows",
                    frame=training_frame[kept],
                )
                digests = log_dataset_inputs(
                    [training_input, *([evaluation] if evaluation is not None else [])]
                )
                mlflow.set_tag(TRAINING_DIGEST_TAG, digests[training_input.name])
                fairness = outcome.fairness.metrics() if outcome.fairness else {}
                mlflow.log_metrics(
                    {
                        **{f"test_{k}": v for k, v in outcome.test_metrics.items() if v == v},
                        **{f"test_{k}": v for k, v in fairness.items()},
                        **{
                            f"cv_{c.name}_{self.config.primary_metric}": c.cv_score
                            for c in outcome.candidates
                        },
                    }
                )
                with tempfile.TemporaryDirectory() as folder:
                    reference = Path(folder) / "reference.parquet"
                    training_frame[kept].to_parquet(reference, index=False)
                    mlflow.log_artifact(str(reference), artifact_path="reference")
                    profile = Path(folder) / "profile.json"
                    profile.write_text(
                        training_frame[self.config.features].describe(include="all").to_json(),
                        encoding="utf-8",
                    )
                    mlflow.log_artifact(str(profile), artifact_path="reference")
                    if outcome.test_scores:
                        holdout = Path(folder) / Path(ESTIMATION_ARTIFACT).name
                        pd.DataFrame(
                            {"score": outcome.test_scores, "label": outcome.test_labels}
                        ).to_parquet(holdout, index=False)
                        mlflow.log_artifact(
                            str(holdout), artifact_path=str(Path(ESTIMATION_ARTIFACT).parent)
                        )
                if outcome.fairness is not None:
                    mlflow.log_dict(to_jsonable(outcome.fairness), FAIRNESS_ARTIFACT)
                if outcome.importance:
                    mlflow.log_dict(
                        to_jsonable(
                            {
                                "evaluated_on": f"held-out test split ({outcome.test_rows} rows)",
                                "features": outcome.importance,
                            }
                        ),
                        IMPORTANCE_ARTIFACT,
                    )
                info = mlflow.sklearn.log_model(
                    outcome.model,
                    name="model",
                    signature=signature,
                    input_example=example,
                    registered_model_name=self.name,
                    skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
                    pip_requirements=model_requirements(),
                    # Scores, not classes, from the pyfunc flavour: what the spark engine's
                    # spark_udf (and any MLflow serving) calls is predict_proba.
                    pyfunc_predict_fn="predict_proba",
                )
                run_id = run.info.run_id
        except RegistryError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"logging the training run to MLflow failed: {first_line(exc)}")
        version = int(info.registered_model_version)
        failpoints.passed("registry: training run logged, its version registered")
        if self.by_alias(CHAMPION) is None:
            # The first version is champion only: there is nothing for it to challenge.
            self._set_alias(CHAMPION, version)
            first = "the model had no champion: its first version serves until one beats it"
            self.record("promote", [first], "first training", version=version)
        else:
            self._set_alias(CHALLENGER, version)
        self.tag_version(version, "driftgate.run_id", run_id)
        return self.version(version)

    # -- look-ups ---------------------------------------------------------------------------
    def version(self, version: int) -> ModelVersionInfo:
        try:
            found = self.client.get_model_version(self.name, str(version))
        except Exception as exc:  # noqa: BLE001
            if _is_missing(exc):
                raise RegistryError(
                    f"model '{self.name}' has no version {version} in the registry"
                ) from None
            raise RegistryError(f"MLflow registry lookup failed: {first_line(exc)}") from exc
        return self._info(found)

    def by_alias(self, alias: str) -> ModelVersionInfo | None:
        found = self._alias_entity(alias)
        return None if found is None else self._info(found)

    def alias_version(self, alias: str) -> int | None:
        """The version number ``alias`` points at (None: no such alias), in one query.

        What the API's watcher asks on every poll: ``by_alias`` also reads the version's run
        (its metrics, parameters and tags) and its aliases.
        """
        found = self._alias_entity(alias)
        return None if found is None else int(found.version)

    def _alias_entity(self, alias: str) -> Any:
        """MLflow's model version ``alias`` points at, or None when there is no such alias."""
        try:
            return self.client.get_model_version_by_alias(self.name, alias)
        except Exception as exc:  # noqa: BLE001
            if _is_missing(exc):
                return None
            raise RegistryError(f"MLflow registry lookup failed: {first_line(exc)}") from exc

    def shadow(self, champion: ModelVersionInfo | None) -> ModelVersionInfo | None:
        """The challenger that was compared and kept: it scores beside the champion.

        A proposed challenger (its PR not merged yet) or one the fairness gate refused is not
        shadowed: the first awaits a reviewer, the second would be refused again.
        """
        challenger = self.by_alias(CHALLENGER)
        if champion is None or challenger is None or challenger.version == champion.version:
            return None
        return challenger if challenger.tags.get("driftgate.decision") == "keep" else None

    def require_alias(self, alias: str) -> ModelVersionInfo:
        found = self.by_alias(alias)
        if found is None:
            raise RegistryError(
                f"model '{self.name}' has no '{alias}' version yet; run `pipeline train` first"
            )
        return found

    def by_run_id(self, run_id: str) -> ModelVersionInfo:
        try:
            versions = self.client.search_model_versions(f"name='{self.name}'")
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow registry lookup failed: {first_line(exc)}") from exc
        for found in versions:
            if found.run_id == run_id:
                return self._info(found)
        raise RegistryError(f"no version of model '{self.name}' was trained by run '{run_id}'")

    def versions(self) -> list[ModelVersionInfo]:
        try:
            found = self.client.search_model_versions(f"name='{self.name}'")
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow registry lookup failed: {first_line(exc)}") from exc
        # One registered-model read for every version's aliases, not one per version.
        aliases = self._aliases_by_version() if found else {}
        infos = (self._info(v, aliases.get(str(v.version), [])) for v in found)
        return sorted(infos, key=lambda v: v.version, reverse=True)

    def retention_inventory(self) -> tuple[list[StoredVersion], list[StoredRun]]:
        """Every version (with its run, logged model and aliases) and every run of the model."""
        try:
            found = self.client.search_model_versions(f"name='{self.name}'")
            aliases = self._aliases_by_version() if found else {}
            experiment = self.client.get_experiment_by_name(self.experiment)
            runs: list[Any] = []
            token = None
            while experiment is not None:
                page = self.client.search_runs(
                    [experiment.experiment_id], max_results=1000, page_token=token
                )
                runs.extend(page)
                token = page.token
                if not token:
                    break
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow lookup failed: {first_line(exc)}") from exc

        def stamp(millis: int | None) -> datetime:
            return datetime.fromtimestamp((millis or 0) / 1000, tz=timezone.utc)

        versions = []
        for v in found:
            source = str(v.source or "")
            model_id = getattr(v, "model_id", None) or (
                source.removeprefix("models:/").split("/")[0]
                if source.startswith("models:/")
                else None
            )
            versions.append(
                StoredVersion(
                    version=int(v.version),
                    run_id=v.run_id or "",
                    model_id=model_id,
                    created=stamp(v.creation_timestamp),
                    aliases=tuple(aliases.get(str(v.version), [])),
                )
            )
        stored_runs = [StoredRun(r.info.run_id, stamp(r.info.start_time)) for r in runs]
        return versions, stored_runs

    def _aliases_by_version(self) -> dict[str, list[str]]:
        try:
            model = self.client.get_registered_model(self.name)
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow lookup failed: {first_line(exc)}") from exc
        by_version: dict[str, list[str]] = {}
        # MLflow 3 gives alias -> version with the version as an int.
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        return by_version

    def _info(self, found: Any, aliases: list[str] | None = None) -> ModelVersionInfo:
        """``found``'s details; ``aliases`` when the caller already read them for all versions."""
        try:
            if aliases is None:
                aliases = list(found.aliases or []) or self._aliases_by_version().get(
                    str(found.version), []
                )
            run = self.client.get_run(found.run_id) if found.run_id else None
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow lookup failed: {first_line(exc)}") from exc
        created = datetime.fromtimestamp(found.creation_timestamp / 1000, tz=timezone.utc)
        return ModelVersionInfo(
            model=self.name,
            version=int(found.version),
            run_id=found.run_id or "",
            aliases=sorted(aliases),
            created_at=created.isoformat(timespec="seconds"),
            metrics={k: float(v) for k, v in (run.data.metrics if run else {}).items()},
            tags=dict(found.tags or {}),
            params=dict(run.data.params) if run else {},
            run_tags=dict(run.data.tags) if run else {},
        )

    # -- artifacts ----------------------------------------------------------------------------
    def load_model(self, info: ModelVersionInfo) -> Any:
        import mlflow

        self.client
        key = (self.settings.tracking_uri_for(self.name), self.name, info.version, info.run_id)
        if key not in _LOADED:
            try:
                _LOADED[key] = mlflow.sklearn.load_model(f"models:/{self.name}/{info.version}")
            except Exception as exc:  # noqa: BLE001
                raise RegistryError(
                    f"could not load model '{self.name}' version {info.version}: "
                    f"{first_line(exc)}"
                ) from exc
        return _LOADED[key]

    def scoring_model(self, info: ModelVersionInfo, alias: str = CHAMPION) -> ScoringModel:
        """``info`` for an engine: loaded on demand here, or by its alias URI on Spark workers."""
        self.client  # the tracking and registry URIs are set for whoever resolves the URI
        return ScoringModel(
            version=info.version,
            run_id=info.run_id,
            uri=f"models:/{self.name}@{alias}",
            load=lambda: self.load_model(info),
        )

    def input_schema(self, version: int) -> dict[str, str]:
        """The version's signature inputs as column name -> MLflow type (empty if unsigned)."""
        from mlflow.models import get_model_info

        self.client
        try:
            signature = get_model_info(f"models:/{self.name}/{version}").signature
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(
                f"could not read the signature of '{self.name}' version {version}: "
                f"{first_line(exc)}"
            ) from exc
        if signature is None or signature.inputs is None:
            return {}
        return {str(c["name"]): str(c["type"]) for c in signature.inputs.to_dict()}

    def load_reference(self, info: ModelVersionInfo) -> pd.DataFrame:
        """The training data logged with ``info``'s run: the default drift reference."""
        frame = self._run_parquet(info, REFERENCE_ARTIFACT, "has no reference data", False)
        assert frame is not None  # missing_ok=False raises instead
        return frame

    def load_holdout_scores(self, info: ModelVersionInfo) -> pd.DataFrame | None:
        """The held-out test split's scores and labels (``score``, ``label``) logged at training.

        None for a version trained before they were logged: the caller falls back.
        """
        return self._run_parquet(info, ESTIMATION_ARTIFACT, "could not read", True)

    def _run_parquet(
        self, info: ModelVersionInfo, artifact: str, problem: str, missing_ok: bool
    ) -> pd.DataFrame | None:
        import mlflow
        import pandas as pd

        self.client
        with tempfile.TemporaryDirectory() as folder:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=info.run_id, artifact_path=artifact, dst_path=folder
                )
            except Exception as exc:  # noqa: BLE001
                if missing_ok and _is_missing(exc):
                    return None
                raise RegistryError(
                    f"version {info.version} of '{self.name}' {problem} ({artifact}): "
                    f"{first_line(exc)}"
                ) from exc
            return pd.read_parquet(local)

    def run_json(self, run_id: str, artifact: str) -> dict[str, Any] | None:
        """A JSON artifact of a run (fairness, importance), or None when the run has none."""
        import json

        import mlflow

        self.client
        with tempfile.TemporaryDirectory() as folder:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=artifact, dst_path=folder
                )
            except Exception:  # noqa: BLE001 - older runs simply lack the artifact
                return None
            data = json.loads(Path(local).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None

    def add_to_run(
        self,
        run_id: str,
        metrics: dict[str, float] | None = None,
        documents: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Metrics, JSON documents and tags added to a finished run (e.g. a decision record)."""
        client = self.client
        try:
            for key, value in (metrics or {}).items():
                if value == value:
                    client.log_metric(run_id, key, value)
            for path, document in (documents or {}).items():
                client.log_dict(run_id, to_jsonable(document), path)
            for key, text in (tags or {}).items():
                client.set_tag(run_id, key, text[:5000])
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"updating MLflow run {run_id} failed: {first_line(exc)}") from exc
        failpoints.passed("registry: a finished run updated")

    # -- the decision record ----------------------------------------------------------------------
    def record(
        self,
        verdict: str,
        reasons: list[str],
        source: str = "",
        version: int | None = None,
        run_id: str | None = None,
    ) -> None:
        """Append a verdict to the record of a version or a run: one tag per decision, never
        overwritten, so `pipeline history` can list every one of them with its reasons."""
        key, value = record_tag(verdict, reasons, source)
        if version is not None:
            self.tag_version(version, key, value)
        if run_id is not None:
            self.add_to_run(run_id, tags={key: value})

    # -- aliases --------------------------------------------------------------------------------
    def tag_version(self, version: int, key: str, value: str) -> None:
        try:
            self.client.set_model_version_tag(self.name, str(version), key, value[:5000])
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"tagging version {version} failed: {first_line(exc)}") from exc
        failpoints.passed(f"registry: version tag {key}")

    def _set_alias(self, alias: str, version: int) -> None:
        try:
            self.client.set_registered_model_alias(self.name, alias, str(version))
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"setting alias '{alias}' failed: {first_line(exc)}") from exc
        failpoints.passed(f"registry: alias {alias}")

    def promote(self, version: int, reason: str, source: str = "command line") -> AliasMove:
        """Make ``version`` the champion and keep the former one as ``previous``. Idempotent."""
        target = self.version(version)
        current = self.by_alias(CHAMPION)
        if current is not None and current.version == target.version:
            previous = self.by_alias(PREVIOUS)
            return AliasMove(
                model=self.name,
                champion=target.version,
                previous=previous.version if previous else None,
                changed=False,
                message=f"version {version} is already the champion of '{self.name}'",
            )
        # The why first, then the alias: an API that sees the new champion (it polls the
        # alias) must find its promotion reason already there.
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.tag_version(target.version, "driftgate.promoted_at", stamp)
        self.tag_version(target.version, "driftgate.promotion_reason", reason)
        if current is not None:
            self._set_alias(PREVIOUS, current.version)
        self._set_alias(CHAMPION, target.version)
        was = f"replaces v{current.version}" if current else "the first champion"
        self.record("promote", [reason, was], source, version=target.version)
        return AliasMove(
            model=self.name,
            champion=target.version,
            previous=current.version if current else None,
            changed=True,
            message=(
                f"champion of '{self.name}' is now version {target.version}"
                + (f" (was {current.version}, kept as 'previous')" if current else "")
            ),
        )

    def rollback(self, reason: str, source: str = "command line") -> AliasMove:
        """Champion := previous; the version rolled back from becomes ``previous``."""
        previous = self.by_alias(PREVIOUS)
        if previous is None:
            raise RegistryError(f"model '{self.name}' has no 'previous' version to roll back to")
        current = self.require_alias(CHAMPION)
        self._set_alias(CHAMPION, previous.version)
        self._set_alias(PREVIOUS, current.version)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.tag_version(previous.version, "driftgate.rolled_back_at", stamp)
        self.tag_version(current.version, "driftgate.rollback_reason", reason)
        restored = f"champion back to v{previous.version}"
        self.record("rollback", [reason, restored], source, version=current.version)
        return AliasMove(
            model=self.name,
            champion=previous.version,
            previous=current.version,
            changed=True,
            message=(
                f"champion of '{self.name}' rolled back to version {previous.version} "
                f"(from {current.version})"
            ),
        )

    # -- monitoring runs --------------------------------------------------------------------------
    def log_run(
        self,
        step: str,
        metrics: dict[str, float],
        params: dict[str, str],
        tags: dict[str, str],
        artifacts: list[Path] | None = None,
        inputs: list[DatasetInput] | None = None,
    ) -> str:
        """A tracking run for a monitoring step (drift, predict, retrain); returns its id.

        ``inputs``: the batches it read, for MLflow's dataset tracking."""
        import mlflow

        self.client
        try:
            with mlflow.start_run(run_name=f"{step}-{self.name}") as run:
                mlflow.set_tags({"driftgate.step": step, "driftgate.model": self.name, **tags})
                if params:
                    mlflow.log_params(params)
                mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})
                log_dataset_inputs(inputs or [])
                for artifact in artifacts or []:
                    mlflow.log_artifact(str(artifact), artifact_path=step)
                run_id: str = run.info.run_id
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"logging the {step} run to MLflow failed: {first_line(exc)}")
        failpoints.passed(f"registry: {step} run logged")
        return run_id

    def step_runs(self, step: str, limit: int = 200) -> list[dict[str, Any]]:
        """The monitoring runs of ``step`` (e.g. drift) for this model, newest first."""
        try:
            experiment = self.client.get_experiment_by_name(self.experiment)
            runs = self.client.search_runs(
                [experiment.experiment_id],
                filter_string=(
                    f"tags.`driftgate.step` = '{step}' and tags.`driftgate.model` = '{self.name}'"
                ),
                order_by=["attributes.start_time DESC"],
                max_results=limit,
            )
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"MLflow run search failed: {first_line(exc)}") from exc
        return [
            {
                "run_id": run.info.run_id,
                "start_time": datetime.fromtimestamp(
                    run.info.start_time / 1000, tz=timezone.utc
                ).isoformat(timespec="seconds"),
                "tags": dict(run.data.tags),
                "metrics": dict(run.data.metrics),
            }
            for run in runs
        ]


RECORD_PREFIX = "driftgate.record."
# Drift runs and versions are also tagged with the issue and PR their verdicts were published in.
ISSUE_TAG, PULL_TAG = "driftgate.issue", "driftgate.pr"


@dataclass
class Record:
    """One verdict on a version or a run: what was decided, when, why, and from where."""

    at: str
    verdict: str
    reasons: list[str]
    source: str


def record_tag(verdict: str, reasons: list[str], source: str) -> tuple[str, str]:
    """The tag holding one decision: keyed by its time (so none overwrites another), JSON value.

    Reasons are shortened first so the value stays valid JSON within MLflow's tag size.
    """
    now = datetime.now(timezone.utc)
    key = RECORD_PREFIX + now.strftime("%Y%m%dT%H%M%S%fZ")
    value = {
        "at": now.isoformat(timespec="microseconds"),  # orders decisions made in one second
        "verdict": verdict,
        "reasons": [reason[:400] for reason in reasons[:8]],
        "source": source,
    }
    return key, json.dumps(value, sort_keys=True)


def read_records(tags: dict[str, str]) -> list[Record]:
    """The decisions recorded in ``tags``, oldest first (unreadable ones are skipped)."""
    records = []
    for key in sorted(k for k in tags if k.startswith(RECORD_PREFIX)):
        try:
            data = json.loads(tags[key])
            records.append(
                Record(
                    str(data["at"]),
                    str(data["verdict"]),
                    [str(r) for r in data.get("reasons", [])],
                    str(data.get("source", "")),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return records


def _check_reachable(uri: str) -> None:
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
            response.read(64)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(
            f"MLflow tracking server at {uri} is not reachable ({reason}); "
            "start it or set MLFLOW_TRACKING_URI"
        ) from None


def _is_missing(exc: Exception) -> bool:
    text = str(exc)
    return "RESOURCE_DOES_NOT_EXIST" in text or "not found" in text.lower()
