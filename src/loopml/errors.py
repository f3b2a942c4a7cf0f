"""The one error tree of loopml.

Every error loopml raises on purpose derives from :class:`LoopmlError`; its message
names the thing, the value and the fix. The CLI prints that message on one line and
exits with code 2.

::

    LoopmlError
     ├── ConfigError                 a bad setting, URL or argument
     │    └── InvalidURL             a store or artifacts URL loopml cannot use
     ├── WorkspaceError
     │    ├── WorkspaceNotFound      no loopml.toml upward and no LOOPML_* URLs
     │    ├── WorkspaceExists        `loopml init` where a workspace already is
     │    ├── NotWritable            a read-only folder or database
     │    ├── StoreMissing           the store the settings name does not exist
     │    └── SchemaError
     │         ├── SchemaTooNew      made by a newer loopml
     │         └── SchemaOutdated    older schema and migration was not allowed
     ├── NotFound                    no such run, artifact, alias or blob
     │    └── BlobMissing            a record points at a blob that is gone
     ├── AlreadyExists               a record that must be unique is there already
     ├── InvalidInput                a value a call or record cannot take
     ├── IntegrityError
     │    └── DigestMismatch         stored bytes do not match their digest
     ├── PipelineError               a pipeline that cannot be traced or checked
     │    └── StepFailed             a step raised; its traceback is kept with its run
     │         └── ValidationFailed  a validation step found errors; an alert has them
     ├── TuningFailed                every trial of a tuning study failed
     ├── GateFailed                  the promotion gate refused a model; .decision says why
     ├── PromotionRefused            promoting a version whose gate failed, or that has none
     ├── StoreError                  the database failed (after retries)
     │    └── StoreUnavailable       cannot connect to the database
     └── ArtifactStoreError          the artifact store's storage failed
          └── ArtifactStoreUnavailable  cannot reach it, or no credentials for it

Example:
    >>> from loopml.errors import NotFound, LoopmlError
    >>> issubclass(NotFound, LoopmlError)
    True
"""

from __future__ import annotations

from typing import Any


class LoopmlError(Exception):
    """Base of every error loopml raises on purpose."""


class ConfigError(LoopmlError):
    """A setting, URL or argument loopml cannot use."""


class InvalidURL(ConfigError):
    """A store or artifacts URL with a scheme or form loopml cannot use."""


class WorkspaceError(LoopmlError):
    """The workspace cannot be found, made or opened."""


class WorkspaceNotFound(WorkspaceError):
    """No loopml.toml in the folder or its parents and no LOOPML_* URLs set."""


class WorkspaceExists(WorkspaceError):
    """`loopml init` in a folder that already holds a workspace."""


class NotWritable(WorkspaceError):
    """A folder or database that loopml must write to is read-only."""


class StoreMissing(WorkspaceError):
    """The metadata store the settings name does not exist: only ``loopml init`` (or
    ``loopml.workspace(create=True)``) makes one, never an ordinary command.

    ``store`` is its URL (password hidden) and ``why`` what was found instead."""

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


class SchemaTooNew(SchemaError):
    """The store was written by a newer loopml than this one."""


class SchemaOutdated(SchemaError):
    """The store has an older schema and was opened without migrating."""


class NotFound(LoopmlError):
    """No run, artifact, alias or blob with that id or name."""


class BlobMissing(NotFound):
    """The artifact store has no blob with a digest a record points to."""


class AlreadyExists(LoopmlError):
    """A record that must be unique exists already."""


class InvalidInput(LoopmlError):
    """A value a call or a record cannot take."""


class IntegrityError(LoopmlError):
    """Stored data is not what was written."""


class DigestMismatch(IntegrityError):
    """A blob's bytes do not hash to the digest it is stored under."""


class PipelineError(LoopmlError):
    """A pipeline that cannot be traced, checked or loaded; the message names the file
    and line."""


class StepFailed(PipelineError):
    """A step raised. ``traceback`` is the step's own traceback, also stored with its run."""

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


class GateFailed(LoopmlError):
    """The promotion gate refused a model; ``decision`` holds every check and why."""

    def __init__(self, message: str, decision: Any = None) -> None:
        super().__init__(message)
        self.decision = decision


class PromotionRefused(LoopmlError):
    """A promotion of a model version whose gate decision failed, or that has none,
    without ``force`` and a reason."""


class StoreError(LoopmlError):
    """The metadata database failed, after the retries loopml makes."""


class StoreUnavailable(StoreError):
    """loopml cannot connect to the metadata database."""


class ArtifactStoreError(LoopmlError):
    """The storage under the artifact store (a folder's disk, S3, ...) failed."""


class ArtifactStoreUnavailable(ArtifactStoreError):
    """loopml cannot reach the artifact store: a wrong endpoint, no network, no
    credentials, or a storage its packages cannot open."""
