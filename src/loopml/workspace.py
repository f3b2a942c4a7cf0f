"""A workspace: one metadata store and one artifact store, found from loopml.toml or the env.

>>> import tempfile
>>> ws = init(tempfile.mkdtemp())
>>> ws.store.info().counts["runs"]
0
>>> ws.close()
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import os
import shutil
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.config import (
    ARTIFACTS_ENV,
    FILE_NAME,
    STATE_DIR,
    STORE_ENV,
    Settings,
    find_settings,
    write_settings,
)
from loopml.errors import ConfigError, NotWritable, StoreMissing

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from loopml.artifacts import ArtifactStore
    from loopml.store import Artifact, MetadataStore


class Workspace:
    """Opens its stores on first use; ``close()`` (or ``with``) releases them.

    The metadata store must exist: it is made only by :func:`init` or
    ``workspace(create=True)``. It is opened (and its schema checked) before the
    artifact store, so a store this loopml cannot write is refused before any bytes
    are stored.
    """

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        self.settings = settings
        self._create = create
        self._store: MetadataStore | None = None
        self._artifacts: ArtifactStore | None = None

    def __repr__(self) -> str:
        settings = self.settings
        return f"Workspace(store={settings.store_url!r}, artifacts={settings.artifacts_url!r})"

    @property
    def root(self) -> Path | None:
        return self.settings.root

    @property
    def store(self) -> MetadataStore:
        if self._store is None:
            from loopml.store import open_store

            try:
                self._store = open_store(self.settings.store_url, create=self._create)
            except StoreMissing as error:
                raise self._missing(error) from None
        return self._store

    def _missing(self, error: StoreMissing) -> StoreMissing:
        source = self.settings.store_source
        named = f"{STORE_ENV} names it" if source == STORE_ENV else f"{source} names it"
        return StoreMissing(
            f"store {error.store} does not exist ({error.why}); {named}: fix the URL or "
            "restore the database; only `loopml init` makes a store (`loopml init "
            "--stores-only` makes an empty one there)",
            store=error.store,
            why=error.why,
        )

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            from loopml.artifacts import ArtifactStore

            self.store  # noqa: B018 - checked first: no bytes go to a store it will refuse
            artifacts = ArtifactStore(self.settings.artifacts_url, self.settings.artifacts_options)
            if artifacts.is_local and not self._create:  # a bucket is checked as it is used
                artifacts.require_location(self.artifacts_source)
            self._artifacts = artifacts
        return self._artifacts

    @property
    def artifacts_source(self) -> str:
        """Where the artifact store's location was read: the variable or the file."""
        return ARTIFACTS_ENV if ARTIFACTS_ENV in os.environ else self.settings.source

    def add_file(
        self,
        path: str | Path,
        *,
        name: str,
        kind: str = "file",
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Artifact:
        """Store a file and record it as the next version of ``(kind, name)``; a file
        equal to the latest version is not recorded again (see :meth:`record`). A kind
        loopml owns (``dataset``, ``model``, ...) is refused before anything is stored."""
        from loopml._kinds import check_user_kind
        from loopml.refs import check_name

        check_user_kind(kind)
        check_name(name, f"{kind} name")
        path = Path(path)
        blob = self.artifacts.put_file(path)
        return self.record(
            blob.digest,
            blob.size,
            kind=kind,
            name=name,
            metadata={"file_name": path.name, **(metadata or {})},
            run_id=run_id,
        )

    def record(
        self,
        digest: str,
        size: int,
        *,
        kind: str,
        name: str,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Artifact:
        """Record bytes already in the artifact store as the next version of
        ``(kind, name)``. Bytes equal to the latest version's are not recorded again:
        that version is returned (and, with ``run_id``, linked to the run as its output).
        A kind loopml owns (``dataset``, ``model``, ...) is refused: its records are
        made by the code that owns it.
        """
        from loopml._kinds import check_user_kind

        check_user_kind(kind)
        return record_version(
            self, digest, size, kind=kind, name=name, metadata=metadata, run_id=run_id
        )

    def latest(self, kind: str, name: str) -> Artifact | None:
        """The highest version of ``(kind, name)``, or None when there is none."""
        from loopml.errors import NotFound

        try:
            return self.store.latest_artifact(kind, name)
        except NotFound:
            return None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record_version(
    ws: Workspace,
    digest: str,
    size: int,
    *,
    kind: str,
    name: str,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Artifact:
    """:meth:`Workspace.record` for any kind, loopml's own included: for the code
    that owns the kind, which writes the metadata its readers count on."""
    from loopml.store import Direction

    latest = ws.latest(kind, name)
    if latest is not None and latest.digest == digest and latest.uri is None:
        if run_id is not None:
            ws.store.add_event(run_id, latest.id, Direction.OUTPUT, "output")
        return latest
    return ws.store.create_artifact(
        kind=kind, name=name, digest=digest, size=size, metadata=metadata, run_id=run_id
    )


def workspace(path: str | Path | None = None, *, create: bool = False) -> Workspace:
    """The workspace at or above ``path`` (default: the current folder), or from the env.

    Its metadata store must exist already (:class:`~loopml.errors.StoreMissing` if
    not). ``create=True`` makes the metadata store the settings name when it is not
    there yet, e.g. for a workspace given by ``LOOPML_STORE_URL`` and
    ``LOOPML_ARTIFACTS_URL`` alone (``ws.artifacts.prepare()`` then checks the
    artifact store); :func:`init` makes a new workspace with its ``loopml.toml``.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.environ["LOOPML_STORE_URL"] = f"sqlite:///{folder}/loopml.db"
    >>> os.environ["LOOPML_ARTIFACTS_URL"] = f"{folder}/artifacts"
    >>> workspace(folder).store
    Traceback (most recent call last):
    ...
    loopml.errors.StoreMissing: store sqlite:///.../loopml.db does not exist ...
    >>> with workspace(folder, create=True) as ws:
    ...     ws.store.info().counts["runs"]
    0
    >>> del os.environ["LOOPML_STORE_URL"], os.environ["LOOPML_ARTIFACTS_URL"]
    """
    return Workspace(find_settings(path), create=create)


_ACTIVE: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar(
    "loopml_active_workspace", default=None
)


@contextlib.contextmanager
def active(ws: Workspace) -> Iterator[Workspace]:
    """Make ``ws`` the workspace that calls without ``workspace=`` use, for a block
    (a pipeline run sets it, so `loopml.data.get` in its body reads the run's workspace)."""
    token = _ACTIVE.set(ws)
    try:
        yield ws
    finally:
        _ACTIVE.reset(token)


def active_workspace() -> Workspace | None:
    """The workspace made active for the block this runs in, if any."""
    return _ACTIVE.get()


def current() -> Workspace:
    """The active workspace, else the one found from the current folder or the env.

    The one found is kept, with its open store, and given again while its settings and
    its SQLite database file are the same ones: opening a store for every call without
    ``workspace=`` cost more than a small run. A changed ``loopml.toml``, a
    ``LOOPML_*`` variable, another folder or a database file replaced (deleted and made
    again) finds the workspace anew.
    """
    return _ACTIVE.get() or _found()


@dataclasses.dataclass(frozen=True)
class _Found:
    """The workspace last found, with what it was found from."""

    where: tuple[object, ...]  # the folder, the LOOPML_* URLs, loopml.toml's file state
    database: tuple[int, int] | None
    workspace: Workspace


_FOUND: list[_Found] = []  # at most one: the last found
_FOUND_LOCK = threading.Lock()


def _found() -> Workspace:
    folder = os.getcwd()
    where = (folder, os.environ.get(STORE_ENV), os.environ.get(ARTIFACTS_ENV), _config(folder))
    with _FOUND_LOCK:
        last = _FOUND[0] if _FOUND else None
    if (
        last is not None
        and last.where == where
        and last.database == _database_file(last.workspace.settings.store_url)
    ):
        return last.workspace
    settings = find_settings()
    found = _Found(where, _database_file(settings.store_url), Workspace(settings))
    with _FOUND_LOCK:
        replaced = _FOUND[:]
        _FOUND[:] = [found]
    for old in replaced:  # a store reopens on its next use, should anyone still hold it
        old.workspace.close()
    return found.workspace


def _config(folder: str) -> tuple[object, ...] | None:
    """The first ``loopml.toml`` at or above ``folder`` and its file's state (what
    :func:`~loopml.config.find_settings` reads), without reading it."""
    while True:
        candidate = os.path.join(folder, FILE_NAME)
        try:
            found = os.stat(candidate)
        except OSError:
            found = None
        if found is not None and stat.S_ISREG(found.st_mode):
            return (candidate, found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _database_file(store_url: str) -> tuple[int, int] | None:
    """The device and inode of a SQLite store's file (None if it has none, or is not
    SQLite): a file replaced under the same name must not be written through an old
    connection, which would write into the deleted one."""
    prefix = "sqlite:///"
    if not store_url.startswith(prefix):
        return None
    try:
        found = os.stat(store_url[len(prefix) :].split("?", 1)[0])
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _not_there_yet(settings: Settings) -> list[Path]:
    """The local files and folders the stores of ``settings`` would make: a failed
    ``init`` removes them again."""
    paths: list[Path] = []
    prefix = "sqlite:///"
    if settings.store_url.startswith(prefix):
        database = settings.store_url[len(prefix) :].partition("?")[0]
        if database:
            paths += [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    if "://" not in settings.artifacts_url:
        paths.append(_first_missing(Path(settings.artifacts_url).absolute()))
    # A path holding NUL is no path: the store refuses its URL before making anything.
    return [path for path in paths if "\x00" not in str(path) and not os.path.lexists(path)]


def _first_missing(path: Path) -> Path:
    while not os.path.lexists(path.parent) and path.parent != path:
        path = path.parent
    return path


def _check_the_stores_agree(ws: Workspace) -> None:
    """A store that holds records already (a team's shared database) must come with the
    artifact store its blobs were written to: with another (a new local folder), every
    record would point at bytes no one else could read."""
    recorded = [a for a in ws.store.find_artifacts(limit=5) if a.uri is None]
    if not recorded or any(ws.artifacts.exists(a.digest) for a in recorded):
        return
    raise ConfigError(
        f"store {ws.settings.store_url} holds records already, and their bytes are not in "
        f"artifact store {ws.artifacts.location}; give the artifact store they were "
        "written to (--artifacts-url, with its --artifacts-option settings), as the "
        "workspace that made them has it in its loopml.toml",
        field="artifacts.url",
    )


def init(
    path: str | Path = ".",
    *,
    store_url: str | None = None,
    artifacts_url: str | None = None,
    artifacts_options: Mapping[str, str | int | float | bool] | None = None,
) -> Workspace:
    """Make a workspace in ``path``: ``loopml.toml``, and ``.loopml/`` for the defaults.

    ``artifacts_options`` are the fsspec storage options of the artifacts URL, written
    to ``[artifacts.options]`` (credentials are better left to the environment).

    The stores are created (or, for an existing database, checked) before this
    returns; if that fails, nothing is left behind.
    """
    root = Path(path).absolute()
    if not root.is_dir():
        raise NotWritable(f"cannot make a workspace in {root}: no such folder; create it first")
    state = root / STATE_DIR
    made_state = not state.exists()
    config_file = write_settings(
        root,
        store_url=store_url,
        artifacts_url=artifacts_url,
        artifacts_options=artifacts_options,
    )
    ws: Workspace | None = None
    fresh: list[Path] = []
    try:
        if made_state:
            state.mkdir()
        settings = find_settings(root, env={})
        fresh = _not_there_yet(settings)
        ws = Workspace(settings, create=True)
        ws.store.info()
        ws.artifacts.prepare()
        _check_the_stores_agree(ws)
    except BaseException as error:
        if ws is not None:
            ws.close()
        config_file.unlink(missing_ok=True)
        if made_state:
            shutil.rmtree(state, ignore_errors=True)
        for made in fresh:
            if made.is_dir() and not made.is_symlink():
                shutil.rmtree(made, ignore_errors=True)
            else:
                made.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise NotWritable(
                f"cannot make a workspace in {root}: {error.strerror}; run `loopml init` in "
                "a folder you can write to"
            ) from None
        raise
    return ws
