"""The one error tree of loopml.

Every error loopml raises on purpose derives from :class:`LoopmlError`; its message
names the thing, the value and the fix. The CLI prints that message on one line and
exits with code 2.

For a server, each class has a stable machine ``code`` (its name in snake_case:
``not_found``, ``digest_mismatch``; unique to the class) and the ``http_status`` to
answer with (drawn below); bad input may name its ``field`` (the argument, setting or
column at fault), and :meth:`LoopmlError.to_dict` is the JSON body of the answer.

::

    LoopmlError                    500
     ├── ConfigError               400  a bad setting, URL or argument
     │    └── InvalidURL           400  a store or artifacts URL loopml cannot use
     ├── WorkspaceError            500
     │    ├── WorkspaceNotFound    404  no loopml.toml upward and no LOOPML_* URLs
     │    ├── WorkspaceExists      409  `loopml init` where a workspace already is
     │    ├── NotWritable          500  a read-only folder or database
     │    ├── StoreMissing         503  the store the settings name does not exist
     │    └── SchemaError          503
     │         ├── SchemaTooNew    503  made by a newer loopml
     │         └── SchemaOutdated  503  older schema and migration was not allowed
     ├── NotFound                  404  no such run, artifact, alias or blob
     │    └── BlobMissing          500  a record points at a blob that is gone
     ├── AlreadyExists             409  a record that must be unique is there already
     ├── Conflict                  409  a record moved since it was read (a compare-and-set lost)
     ├── InvalidInput              400  a value a call or record cannot take
     ├── IntegrityError            500
     │    └── DigestMismatch       500  stored bytes do not match their digest
     ├── PipelineError             422  a pipeline that cannot be traced or checked
     │    └── StepFailed           500  a step raised; its traceback is kept with its run
     │         └── ValidationFailed  422  a validation step found errors; an alert has them
     ├── TuningFailed              500  every trial of a tuning study failed
     ├── GateFailed                422  the promotion gate refused a model; .decision says why
     ├── PromotionRefused          409  promoting a version whose gate failed, or that has none
     ├── ModelFailed               503  a served version failed on a request, with no fallback
     ├── StoreError                500  the database failed (after retries)
     │    └── StoreUnavailable     503  cannot connect to the database
     └── ArtifactStoreError        500  the artifact store's storage failed
          └── ArtifactStoreUnavailable  503  cannot reach it, or no credentials for it

Warnings loopml gives on purpose derive from :class:`LoopmlWarning`::

    UserWarning
     └── LoopmlWarning
          ├── OverlapWarning       evaluation rows also appear in the training data
          └── ModelVersionWarning  a model loaded with another library version than saved

Example:
    >>> from loopml.errors import InvalidInput, NotFound, LoopmlError
    >>> issubclass(NotFound, LoopmlError)
    True
    >>> error = InvalidInput("label 'y' is not a column; use x", field="label")
    >>> error.code, error.http_status
    ('invalid_input', 400)
    >>> error.to_dict()
    {'error': "label 'y' is not a column; use x", 'code': 'invalid_input', 'field': 'label'}
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "ArtifactStoreError",
    "ArtifactStoreUnavailable",
    "BlobMissing",
    "ConfigError",
    "Conflict",
    "DigestMismatch",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "InvalidURL",
    "LoopmlError",
    "LoopmlWarning",
    "ModelFailed",
    "ModelVersionWarning",
    "NotFound",
    "NotWritable",
    "OverlapWarning",
    "PipelineError",
    "PromotionRefused",
    "SchemaError",
    "SchemaOutdated",
    "SchemaTooNew",
    "StepFailed",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "TuningFailed",
    "ValidationFailed",
    "WorkspaceError",
    "WorkspaceExists",
    "WorkspaceNotFound",
]


class LoopmlError(Exception):
    """Base of every error loopml raises on purpose.

    ``code`` and ``http_status`` are class attributes; ``field`` names the argument,
    setting or column at fault when the raiser knows it (else None)."""

    code: ClassVar[str] = "loopml_error"
    # an error with no better class is loopml's own failure
    http_status: ClassVar[int] = 500
    field: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The JSON body a server answers with: ``error`` (the message), ``code``, and
        ``field`` when known."""
        body = {"error": str(self), "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body


class ConfigError(LoopmlError):
    """A setting, URL or argument loopml cannot use; ``field`` names it when known."""

    code = "config_error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidURL(ConfigError):
    """A store or artifacts URL with a scheme or form loopml cannot use."""

    code = "invalid_url"


class WorkspaceError(LoopmlError):
    """The workspace cannot be found, made or opened."""

    code = "workspace_error"
    # the server's own workspace, not anything in the request
    http_status = 500


class WorkspaceNotFound(WorkspaceError):
    """No loopml.toml in the folder or its parents and no LOOPML_* URLs set."""

    code = "workspace_not_found"
    http_status = 404


class WorkspaceExists(WorkspaceError):
    """`loopml init` in a folder that already holds a workspace."""

    code = "workspace_exists"
    http_status = 409


class NotWritable(WorkspaceError):
    """A folder or database that loopml must write to is read-only."""

    code = "not_writable"


class StoreMissing(WorkspaceError):
    """The metadata store the settings name does not exist: only ``loopml init`` (or
    ``loopml.workspace(create=True)``) makes one, never an ordinary command.

    ``store`` is its URL (password hidden) and ``why`` what was found instead."""

    code = "store_missing"
    # nothing can be answered until the store is made
    http_status = 503

    def __init__(self, message: str, *, store: str = "", why: str = "") -> None:
        super().__init__(message)
        self.store = store
        self.why = why

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_missing, (str(self), self.store, self.why)


def _rebuild_missing(message: str, store: str, why: str) -> StoreMissing:
    return StoreMissing(message, store=store, why=why)


class SchemaError(WorkspaceError):
    """The metadata store's schema does not match this version of loopml."""

    code = "schema_error"
    # nothing can be answered until the store is migrated or loopml upgraded
    http_status = 503


class SchemaTooNew(SchemaError):
    """The store was written by a newer loopml than this one."""

    code = "schema_too_new"


class SchemaOutdated(SchemaError):
    """The store has an older schema and was opened without migrating."""

    code = "schema_outdated"


class NotFound(LoopmlError):
    """No run, artifact, alias or blob with that id or name."""

    code = "not_found"
    http_status = 404

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BlobMissing(NotFound):
    """The artifact store has no blob with a digest a record points to."""

    code = "blob_missing"
    # the record exists but its bytes were lost: the server's fault, not the caller's
    http_status = 500


class AlreadyExists(LoopmlError):
    """A record that must be unique exists already."""

    code = "already_exists"
    http_status = 409


class Conflict(LoopmlError):
    """A change guarded by what its caller read was refused: the record moved since (an
    alias another caller moved first). Nothing was written; read again and decide anew."""

    code = "conflict"
    # the record's state changed under the request, which may be made again
    http_status = 409


class InvalidInput(LoopmlError):
    """A value a call or a record cannot take; ``field`` names the argument or column
    that holds it, when known."""

    code = "invalid_input"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IntegrityError(LoopmlError):
    """Stored data is not what was written."""

    code = "integrity_error"
    http_status = 500


class DigestMismatch(IntegrityError):
    """A blob's bytes do not hash to the digest it is stored under."""

    code = "digest_mismatch"


class PipelineError(LoopmlError):
    """A pipeline that cannot be traced, checked or loaded; the message names the file
    and line."""

    code = "pipeline_error"
    # the pipeline's code is refused by the checks, not the request's form
    http_status = 422


class StepFailed(PipelineError):
    """A step raised. ``traceback`` is the step's own traceback, also stored with its run."""

    code = "step_failed"
    # the step's own code raised while working: the request itself was fine
    http_status = 500

    def __init__(self, message: str, *, step: str, run_id: str, traceback: str) -> None:
        super().__init__(message)
        self.step = step
        self.run_id = run_id
        self.traceback = traceback

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a worker process, it crosses back to the parent by pickle.
        fields = {"step": self.step, "run_id": self.run_id, "traceback": self.traceback}
        return _rebuild, (type(self), str(self), fields)


class ValidationFailed(StepFailed):
    """A validation step found anomalies at error severity: the pipeline stopped before
    the steps after it, and ``alert_id`` names the alert that records them."""

    code = "validation_failed"
    # the data was refused by validation
    http_status = 422

    def __init__(
        self, message: str, *, step: str, run_id: str, traceback: str, alert_id: str
    ) -> None:
        super().__init__(message, step=step, run_id=run_id, traceback=traceback)
        self.alert_id = alert_id

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {
            "step": self.step,
            "run_id": self.run_id,
            "traceback": self.traceback,
            "alert_id": self.alert_id,
        }
        return _rebuild, (type(self), str(self), fields)


def _rebuild(cls: type[StepFailed], message: str, fields: dict[str, str]) -> StepFailed:
    return cls(message, **fields)


class TuningFailed(LoopmlError):
    """Every trial of a tuning study failed; the message has the first error."""

    code = "tuning_failed"
    # like StepFailed: the objective's code raised
    http_status = 500


class GateFailed(LoopmlError):
    """The promotion gate refused a model; ``decision`` holds every check and why."""

    code = "gate_failed"
    # the model was refused by the gate's checks
    http_status = 422

    def __init__(self, message: str, decision: Any = None) -> None:
        super().__init__(message)
        self.decision = decision


class PromotionRefused(LoopmlError):
    """A promotion of a model version whose gate decision failed, or that has none,
    without ``force`` and a reason."""

    code = "promotion_refused"
    # the version's state (its gate) forbids the move
    http_status = 409


class ModelFailed(LoopmlError):
    """A served model version raised or ran past its time budget on a request, and its
    deployment had no fallback version to answer instead."""

    code = "model_failed"
    http_status = 503


class StoreError(LoopmlError):
    """The metadata database failed, after the retries loopml makes."""

    code = "store_error"
    http_status = 500


class StoreUnavailable(StoreError):
    """loopml cannot connect to the metadata database."""

    code = "store_unavailable"
    http_status = 503


class ArtifactStoreError(LoopmlError):
    """The storage under the artifact store (a folder's disk, S3, ...) failed."""

    code = "artifact_store_error"
    http_status = 500


class ArtifactStoreUnavailable(ArtifactStoreError):
    """loopml cannot reach the artifact store: a wrong endpoint, no network, no
    credentials, or a storage its packages cannot open."""

    code = "artifact_store_unavailable"
    http_status = 503


class LoopmlWarning(UserWarning):
    """Base of every warning loopml gives on purpose: ``warnings.simplefilter("error",
    LoopmlWarning)`` turns them all into errors."""


class OverlapWarning(LoopmlWarning):
    """Evaluation rows also appear in the training data, and ``allow_overlap=True``
    let the evaluation go on: its metrics are optimistic."""


class ModelVersionWarning(LoopmlWarning):
    """A model is loaded with a library version other than the one it was saved with:
    it may predict differently, or not load in a later step."""
