"""Staging a dataset version: its bytes, and its profile, put in one batch of the
artifact store before any record is made, and nothing read that need not be.

- A file whose stat the stat cache vouches for, and whose digest is the latest
  version's (with the same label), is answered from metadata: it is not read at all.
- Otherwise a file is hashed and copied in first; if it equals the latest version
  after all (touched, or copied back), the table is not read either.
- A folder's files are hashed only where the stat cache cannot vouch for them; the
  digests of the latest version's manifest need no look-up in the store.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.data._files import cached_digest, read_manifest, store_file, store_folder
from loopml.data._profile import Profile, profile, row_hash_method
from loopml.data._read import as_polars, file_format, read_table
from loopml.data._statcache import stat_key
from loopml.errors import BlobMissing, DigestMismatch, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from loopml.artifacts._store import BlobBatch
    from loopml.data._sample import Sample
    from loopml.data._statcache import StatCache
    from loopml.store import Artifact
    from loopml.workspace import Workspace


@dataclass
class Staged:
    """A version's bytes, in the batch; ``unchanged`` when they are the latest
    version's (and its label too), so that nothing is to be recorded."""

    digest: str
    size: int
    metadata: dict[str, Any]
    profile: Profile | None
    unchanged: bool = False


def stage_path(
    ws: Workspace,
    path: Path,
    *,
    cache: StatCache,
    batch: BlobBatch,
    latest: Artifact | None,
    label: str | None,
) -> Staged:
    if not path.exists():
        raise InvalidInput(
            f"cannot add {path}: no such file or folder; check the path", field="source"
        )
    fmt = file_format(path)
    if fmt == "folder":
        return _stage_folder(ws, path, cache=cache, batch=batch, latest=latest, label=label)
    source = {"path": str(path.absolute())}
    before = path.stat()
    digest = cached_digest(ws.artifacts, path, cache)
    if digest is not None and _is_latest(latest, digest, label):
        return Staged(digest, before.st_size, {}, None, unchanged=True)
    if digest is None:
        digest, _ = store_file(ws.artifacts, path, cache, batch=batch)
        if _is_latest(latest, digest, label):
            return Staged(digest, before.st_size, {}, None, unchanged=True)
    table = read_table(path, fmt)
    table_profile = profile(table, label=label)  # checks the label before anything is stored
    if stat_key(path.stat()) != stat_key(before):
        raise InvalidInput(
            f"file {path} changed while it was being added; add it again once nothing "
            "is writing to it"
        )
    return Staged(
        digest,
        before.st_size,
        {
            "format": fmt,
            "file_name": path.name,
            "source": {**source, "size": before.st_size, "rows": table.height},
            **shape(table),
        },
        table_profile,
    )


def _stage_folder(
    ws: Workspace,
    path: Path,
    *,
    cache: StatCache,
    batch: BlobBatch,
    latest: Artifact | None,
    label: str | None,
) -> Staged:
    folder = latest is not None and latest.metadata.get("format") == "folder"
    entries, manifest = store_folder(
        ws.artifacts,
        path,
        cache,
        batch=batch,
        last=latest.digest if folder and latest is not None else None,
        present=lambda: _manifest_digests(ws, latest),
    )
    total = sum(e.size for e in entries)
    digest = batch.put_bytes(manifest).digest
    if _is_latest(latest, digest, label):
        return Staged(digest, total, {}, None, unchanged=True)
    suffixes: dict[str, int] = {}
    for entry in entries:
        suffix = Path(entry.path).suffix.lower() or "(none)"
        suffixes[suffix] = suffixes.get(suffix, 0) + 1
    return Staged(
        digest,
        total,
        {
            "format": "folder",
            "file_name": path.name,
            "source": {"path": str(path.absolute()), "size": total, "files": len(entries)},
            "files": len(entries),
            "suffixes": suffixes,
        },
        None,
    )


def _manifest_digests(ws: Workspace, latest: Artifact | None) -> frozenset[str]:
    """The digests of the latest version's files: stored when it was recorded."""
    if latest is None or latest.metadata.get("format") != "folder":
        return frozenset()
    try:
        return frozenset(e.digest for e in read_manifest(ws.artifacts.read_bytes(latest.digest)))
    except (BlobMissing, DigestMismatch, InvalidInput, ValueError, KeyError):
        return frozenset()  # then each digest is looked up in the store


def stage_table(ws: Workspace, obj: Any, *, batch: BlobBatch, label: str | None) -> Staged:
    table = as_polars(obj)
    table_profile = profile(table, label=label)  # checks the label before anything is stored
    kind = type(obj).__module__.split(".")[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.parquet"
        table.write_parquet(path, statistics=True)
        blob = batch.put_file(path)
    return Staged(
        blob.digest,
        blob.size,
        {
            "format": "parquet",
            "file_name": "data.parquet",
            "source": {
                "path": None,
                "object": f"{kind} {type(obj).__name__}",
                "rows": table.height,
            },
            **shape(table),
        },
        table_profile,
    )


def shape(table: pl.DataFrame) -> dict[str, Any]:
    return {
        "rows": table.height,
        "columns": [{"name": n, "type": str(t)} for n, t in table.schema.items()],
    }


def store_profile(batch: BlobBatch, table_profile: Profile) -> dict[str, Any]:
    """The profile's blobs (JSON, quantiles, order statistics, categorical counts,
    sample, row hashes) put in ``batch``; the
    metadata that names them. The quantiles and the sample, which for a wide table are
    as large as the table, are written to a file and stored from it, not held twice."""
    import numpy as np

    blobs = table_profile.to_stored()
    data, quantiles, order_stats = blobs.json, blobs.quantiles, blobs.order_stats
    stored: dict[str, Any] = {
        "profile": batch.put_bytes(json.dumps(data, separators=(",", ":")).encode()).digest,
        "profile_quantiles": _put_written(batch, lambda out: _save_npy(out, quantiles)),
    }
    if order_stats.size:
        stored["profile_order_stats"] = _put_written(batch, lambda out: _save_npy(out, order_stats))
    all_values = blobs.all_values
    if all_values is not None:
        stored["profile_counts"] = _put_written(
            batch, lambda out: all_values.write_ipc(out, compression="zstd")
        )
    sample = table_profile.sample
    if sample is not None and sample.width:
        # One float64 matrix: read back with NumPy alone (earlier versions stored Arrow
        # IPC or Parquet, which are still read).
        stored["profile_sample"] = _put_written(batch, lambda out: _write_sample(out, sample))
    if table_profile.row_hashes is not None:
        hashes = np.ascontiguousarray(table_profile.row_hashes, dtype="<u8")
        stored["row_hashes"] = _put_written(batch, lambda out: _save_npy(out, hashes))
        stored["row_hash"] = row_hash_method()
    return stored


def _put_written(batch: BlobBatch, write: Callable[[Path], object]) -> str:
    """The digest of what ``write`` writes to a file, stored in ``batch``."""
    with tempfile.TemporaryDirectory(prefix="loopml-") as tmp:
        path = Path(tmp) / "blob"
        write(path)
        return batch.put_file(path).digest


def _write_sample(path: Path, sample: Sample) -> None:
    with path.open("wb") as out:
        sample.write(out)


def _save_npy(path: Path, array: Any) -> None:
    import numpy as np

    with path.open("wb") as out:
        np.save(out, array, allow_pickle=False)


def _is_latest(latest: Artifact | None, digest: str, label: str | None) -> bool:
    return latest is not None and latest.digest == digest and latest.metadata.get("label") == label
