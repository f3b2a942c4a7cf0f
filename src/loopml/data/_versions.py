"""Dataset versions: immutable, content-addressed, with a profile and a pinned schema.

A version is an Artifact of kind ``dataset``. Its digest names the bytes that were
added: the file itself (Parquet or CSV, checked out byte for byte), the Parquet a
DataFrame was written to, or a folder's manifest. Its metadata holds the source, who
added it and when, the row and column counts, the label column, notes, and the
digests of its profile (JSON) and profile sample (Parquet), which sit in the artifact
store next to it. The first version's inferred schema becomes the dataset's schema
(an Artifact of kind ``schema``; its latest version is the pinned one).
"""

from __future__ import annotations

import dataclasses
import getpass
import io
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.data._files import (
    FolderEntry,
    StatCache,
    read_manifest,
    safe_target,
)
from loopml.data._infer import infer_schema
from loopml.data._profile import Profile
from loopml.data._read import read_table
from loopml.data._sample import Sample
from loopml.data._schema import Schema
from loopml.data._staging import stage_path, stage_table, store_profile
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.refs import check_name, resolve

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from loopml.artifacts import ArtifactStore, Blob
    from loopml.store import Artifact
    from loopml.workspace import Workspace

TABULAR = ("parquet", "csv")


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset; loads its data and profile on demand.

    >>> import tempfile, polars as pl, loopml
    >>> ws = loopml.init(tempfile.mkdtemp())
    >>> v1 = loopml.data.add(pl.DataFrame({"x": [1, 2, 3]}), name="numbers", workspace=ws)
    >>> latest = loopml.data.get("numbers@latest", workspace=ws)
    >>> v1.ref, v1.rows, latest.to_polars()["x"].to_list()
    ('numbers@v1', 3, [1, 2, 3])
    >>> ws.close()
    """

    artifact: Artifact
    workspace: Workspace

    @property
    def ref(self) -> str:
        return self.artifact.ref

    @property
    def name(self) -> str:
        return self.artifact.name

    @property
    def version(self) -> int:
        return self.artifact.version

    @property
    def digest(self) -> str:
        return self.artifact.digest

    @property
    def metadata(self) -> dict[str, Any]:
        return self.artifact.metadata

    @property
    def format(self) -> str:
        found = self.metadata.get("format")
        if not isinstance(found, str):
            raise InvalidInput(
                f"dataset {self.ref} was not recorded by `loopml data add`: its record has no "
                "format; add the data again with `loopml data add PATH --name NAME`"
            )
        return found

    @property
    def what(self) -> str:
        """How errors name this version: ``dataset churn@v2``."""
        return f"dataset {self.ref}"

    @property
    def rows(self) -> int | None:
        rows = self.metadata.get("rows")
        return None if rows is None else int(rows)

    @property
    def tabular(self) -> bool:
        return self.format in TABULAR

    def profile(self) -> Profile:
        """The stored profile (InvalidInput for a folder of files, which has none)."""
        if not self.tabular:
            raise InvalidInput(f"{self.ref} is a folder of files: it has no table profile")
        artifacts = self.workspace.artifacts
        what = f"the profile of {self.what}"
        data = json.loads(artifacts.read_bytes(self.metadata["profile"], what=what))
        sample_digest = self.metadata.get("profile_sample")
        quantiles_digest = self.metadata.get("profile_quantiles")
        quantiles = (
            _load_npy(artifacts.read_bytes(quantiles_digest, what=what))
            if quantiles_digest
            else None
        )
        order_digest = self.metadata.get("profile_order_stats")
        counts_digest = self.metadata.get("profile_counts")
        table = Profile.from_json(
            data,
            quantiles=quantiles,
            order_stats=_load_npy(artifacts.read_bytes(order_digest, what=what))
            if order_digest
            else None,
            all_values=_read_frame(artifacts.read_bytes(counts_digest, what=what))
            if counts_digest
            else None,
        )
        if sample_digest is None:
            return table
        numeric = tuple(column.name for column in table.columns if column.numeric)
        sample = Sample.read(artifacts.read_bytes(sample_digest, what=what), numeric)
        return dataclasses.replace(table, sample=sample)

    def row_hashes(self) -> tuple[npt.NDArray[np.uint64], dict[str, Any]] | None:
        """Every row's hash, sorted, and what made them; None for a version stored
        without them (added by loopml 0.1, or a folder)."""
        digest = self.metadata.get("row_hashes")
        if not self.tabular or digest is None:
            return None
        what = f"the row hashes of {self.what}"
        hashes = _load_npy(self.workspace.artifacts.read_bytes(digest, what=what))
        return hashes, dict(self.metadata.get("row_hash") or {})

    def to_polars(self) -> pl.DataFrame:
        if not self.tabular:
            raise InvalidInput(
                f"{self.ref} is a folder of files, not a table; use .path() to read its files"
            )
        return read_table(self.path(), self.format)

    def to_pandas(self) -> pd.DataFrame:
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise InvalidInput("to_pandas() needs pandas: pip install 'loopml[pandas]'") from None
        return self.to_polars().to_pandas()

    def to_arrow(self) -> pa.Table:
        return self.to_polars().to_arrow()

    def path(self) -> Path:
        """A read-only local copy, under its original file name (a folder for folders).

        Made once in the workspace's ``.loopml/checkouts``, files hard-linked to the
        local artifact store when they can be. A copy only ever appears whole: a file
        by link or rename, a folder by renaming the folder it was built in. Every file
        is checked against its digest before the path is returned (hashed once per
        process while the file is unchanged): a damaged blob is an IntegrityError.
        """
        store = self.workspace.artifacts
        folder = _checkouts_folder(self.workspace)
        if self.format != "folder":
            target = folder / self.digest / str(self.metadata.get("file_name", "data"))
            return store.local_copy(self.digest, target, what=self.what)
        entries = self._manifest()
        target = folder / self.digest
        if target.is_dir():
            _check_folder(store, entries, target, self.what)
            return target
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
        try:
            for entry in entries:
                what = f"{self.what} file {entry.path}"
                store.local_copy(entry.digest, safe_target(staging, entry.path), what=what)
            try:
                os.replace(staging, target)
            except OSError:  # another process made it first
                shutil.rmtree(staging, ignore_errors=True)
                _check_folder(store, entries, target, self.what)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def checkout(self, dest: str | Path, *, force: bool = False) -> Path:
        """Write the version's bytes, checked, to ``dest``; returns the path written.

        A file goes to ``dest`` (or into it, under its own name, when ``dest`` is a
        folder or ends with a slash); a folder's files go into ``dest``, which must be
        missing or empty unless ``force``. A file there already with other content is
        replaced only with ``force``; a link, FIFO or device never.
        """
        from loopml.data._checkout import checkout

        return checkout(self, dest, force=force)

    def _manifest(self) -> list[FolderEntry]:
        return read_manifest(self.workspace.artifacts.read_bytes(self.digest, what=self.what))


def _check_folder(
    store: ArtifactStore, entries: list[FolderEntry], folder: Path, what: str
) -> None:
    """A folder checked out before is checked again: each file against its digest (a
    damaged one made again from its blob), and a file that is not the version's removed."""
    for entry in entries:
        target = safe_target(folder, entry.path)
        store.local_copy(entry.digest, target, what=f"{what} file {entry.path}")
    wanted = {entry.path for entry in entries}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            extra = Path(root) / name
            if extra.relative_to(folder).as_posix() not in wanted:
                extra.unlink()


def _read_frame(data: bytes) -> pl.DataFrame:
    """A profile's value counts, as Arrow IPC."""
    import polars as pl

    return pl.read_ipc(io.BytesIO(data))


def _load_npy(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _checkouts_folder(ws: Workspace) -> Path:
    root = ws.root
    folder = (
        root / ".loopml" / "checkouts"
        if root is not None
        else Path(tempfile.gettempdir()) / "loopml-checkouts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stat_cache(ws: Workspace) -> StatCache:
    return StatCache(ws.root / ".loopml" / "stat-cache.db" if ws.root is not None else None)


# -- adding -----------------------------------------------------------------------------


def add_version(
    ws: Workspace,
    source: Any,
    *,
    name: str,
    label: str | None = None,
    description: str | None = None,
    labelling_notes: str | None = None,
    extra: Mapping[str, Any] | None = None,
    record: Callable[..., Artifact] | None = None,
    run_id: str | None = None,
) -> tuple[DatasetVersion, bool]:
    """Record ``source`` as the next version of ``name``; (version, whether it is new).

    Content equal to the latest version's is not recorded again: that version comes
    back with ``False``. Every blob of the version (its bytes, profile and schema) is
    stored in one batch, made durable at once, before the records that name them.

    ``extra`` is added to the version's metadata. ``record`` makes the version's record
    in place of ``create_artifact`` (given the same keywords), for a caller that writes
    more in the same transaction; a version is then always made, even of content
    equal to the latest (its lineage differs). ``run_id`` names the run that made it
    (the version is recorded as its output, role ``dataset``).
    """
    check_name(name, "dataset name", field="name")
    for text, what, field in (
        (description, "description", "description"),
        (labelling_notes, "labelling notes", "labelling_notes"),
    ):
        if text is not None and not isinstance(text, str):
            raise InvalidInput(f"{what} must be text, not {type(text).__name__}", field=field)
    cache = stat_cache(ws)  # opened first: files are judged recent against this moment
    try:
        latest = ws.latest(ArtifactKind.DATASET, name)
        with ws.artifacts.batch() as batch:
            if isinstance(source, str | os.PathLike):
                staged = stage_path(
                    ws, Path(source), cache=cache, batch=batch, latest=latest, label=label
                )
            else:
                staged = stage_table(ws, source, batch=batch, label=label)
                staged.unchanged = _same(latest, staged.digest, label)
            if staged.unchanged and latest is not None and record is None:
                return DatasetVersion(latest, ws), False
            metadata: dict[str, Any] = {
                **staged.metadata,
                "created_by": _who(),
                "label": label,
                "description": description,
                "labelling_notes": labelling_notes,
                **(extra or {}),
            }
            schema_blob = None
            if staged.profile is not None:
                metadata.update(store_profile(batch, staged.profile))
                if ws.latest(ArtifactKind.SCHEMA, name) is None:
                    schema_yaml = infer_schema(staged.profile).to_yaml()
                    schema_blob = batch.put_bytes(schema_yaml.encode())
    finally:
        cache.close()
    made: dict[str, Any] = {
        "kind": ArtifactKind.DATASET,
        "name": name,
        "digest": staged.digest,
        "size": staged.size,
        "metadata": metadata,
    }
    if record is not None:
        artifact = record(**made)
    else:
        found = _created_after(ws, made, latest, run_id, label)
        if isinstance(found, DatasetVersion):
            return found, False  # the same content, added meanwhile by another process
        artifact = found
    version = DatasetVersion(artifact, ws)
    if schema_blob is not None and _first_profiled(ws, artifact):
        _record_schema_blob(ws, name, schema_blob, source=f"inferred from {version.ref}")
    return version, True


def _created_after(
    ws: Workspace,
    made: dict[str, Any],
    latest: Artifact | None,
    run_id: str | None,
    label: str | None,
) -> Artifact | DatasetVersion:
    """The new version, recorded only after ``latest``, the version its content was
    compared with: when another process recorded one meanwhile, the comparison is made
    again (the same content is that version, not a new one) before trying after it."""
    while True:
        try:
            return ws.store.create_artifact(
                **made, run_id=run_id, role="dataset", after=0 if latest is None else latest.version
            )
        except Conflict:
            latest = ws.latest(ArtifactKind.DATASET, made["name"])
            if _same(latest, made["digest"], label):
                assert latest is not None
                return DatasetVersion(latest, ws)


def _first_profiled(ws: Workspace, artifact: Artifact) -> bool:
    """Whether ``artifact`` is its dataset's first version with a profile, the one
    whose schema is inferred (not a later one whose process got there first)."""
    for earlier in range(1, artifact.version):
        before = ws.store.get_artifact_version(artifact.kind, artifact.name, earlier)
        if before.metadata.get("profile") is not None:
            return False
    return ws.latest(ArtifactKind.SCHEMA, artifact.name) is None


def _same(latest: Artifact | None, digest: str, label: str | None) -> bool:
    return latest is not None and latest.digest == digest and latest.metadata.get("label") == label


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# -- reading ----------------------------------------------------------------------------


def get_version(ws: Workspace, ref: str, *, field: str | None = None) -> DatasetVersion:
    """The dataset version ``ref`` names; ``field`` is the argument that holds it."""
    try:
        return DatasetVersion(resolve(ws.store, ArtifactKind.DATASET, ref, field=field), ws)
    except NotFound as error:
        raise NotFound(f"{error}; `loopml data log NAME` lists a dataset's versions") from None


def list_versions(ws: Workspace, name: str) -> list[DatasetVersion]:
    check_name(name, "dataset name", field="name")
    found = ws.store.find_artifacts(kind=ArtifactKind.DATASET, name=name)
    if not found:
        raise NotFound(
            f"no dataset named {name!r}; add one with `loopml data add PATH --name {name}`"
        )
    return [DatasetVersion(a, ws) for a in sorted(found, key=lambda a: a.version)]


def previous_version(version: DatasetVersion) -> DatasetVersion | None:
    if version.version <= 1:
        return None
    try:
        artifact = version.workspace.store.get_artifact_version(
            ArtifactKind.DATASET, version.name, version.version - 1
        )
    except NotFound:
        return None
    return DatasetVersion(artifact, version.workspace)


# -- schemas ----------------------------------------------------------------------------


def record_schema(ws: Workspace, name: str, schema: Schema, *, source: str) -> Artifact:
    """Store ``schema`` as the dataset's pinned schema (its next schema version)."""
    return _record_schema_blob(ws, name, ws.artifacts.put_bytes(schema.to_yaml().encode()), source)


def _record_schema_blob(ws: Workspace, name: str, blob: Blob, source: str) -> Artifact:
    from loopml.workspace import record_version

    return record_version(
        ws,
        blob.digest,
        blob.size,
        kind=ArtifactKind.SCHEMA,
        name=name,
        metadata={"source": source, "created_by": _who(), "file_name": f"{name}.schema.yaml"},
    )


def pinned_schema(ws: Workspace, name: str) -> tuple[Schema, Artifact]:
    """The dataset's schema; inferred from its first version when none was recorded."""
    artifact = ws.latest(ArtifactKind.SCHEMA, name)
    if artifact is None:
        first = get_version(ws, f"{name}@v1")
        artifact = record_schema(
            ws, name, infer_schema(first.profile()), source=f"inferred from {first.ref}"
        )
    text = ws.artifacts.read_bytes(artifact.digest, what=f"schema {artifact.ref}").decode()
    return Schema.from_yaml(text, f"schema {artifact.ref}"), artifact
