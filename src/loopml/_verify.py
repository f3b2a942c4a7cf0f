"""``loopml verify``: every blob any record points to is there and hashes to its digest.

A record points to its own blob, to the blobs its metadata names (a dataset's profile,
quantiles, sample and row hashes, a model's ONNX copy: the fields :mod:`loopml._kinds`
lists), and,
for a folder, to each file its manifest names. Each blob is read whole once, however
many records point to it; a record kept elsewhere (``uri`` set) is not loopml's to
check.

>>> import tempfile, loopml
>>> ws = loopml.init(tempfile.mkdtemp())
>>> _ = loopml.data.add(__import__("polars").DataFrame({"x": [1]}), name="d", workspace=ws)
>>> found = verify_workspace(ws)
>>> found.records, found.blobs, found.damage
(2, 6, [])
>>> ws.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopml._kinds import is_manifest, metadata_blobs
from loopml.errors import BlobMissing, IntegrityError, InvalidInput

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class Damage:
    """One blob a record needs that is missing or does not match its digest."""

    record: str  # "dataset churn@v2"
    part: str  # what of the record the blob holds: "data", "profile", "file a/b.csv", ...
    digest: str
    problem: str  # "missing", "corrupt" or "not a digest"
    message: str


@dataclass
class Verification:
    """What ``verify_workspace`` checked and the damage it found."""

    records: int = 0
    blobs: int = 0
    damage: list[Damage] = field(default_factory=list)

    @property
    def damaged_records(self) -> int:
        return len({found.record for found in self.damage})


def verify_workspace(ws: Workspace) -> Verification:
    """Check every blob every artifact record of ``ws`` points to."""
    result = Verification()
    problems: dict[str, tuple[str, str] | None] = {}  # digest -> (problem, error), or None
    if ws.store.find_artifacts(limit=1):  # blobs to check: their store must be there
        ws.artifacts.require_location(ws.artifacts_source)  # not there: not damage

    def check(record: str, part: str, digest: str) -> bool:
        if digest not in problems:
            problems[digest] = _problem(ws, digest)
        found = problems[digest]
        if found is not None:
            what = record if part == "data" else f"the {part} of {record}"
            result.damage.append(Damage(record, part, digest, found[0], f"{what}: {found[1]}"))
        return found is None

    for artifact in ws.store.find_artifacts():
        if artifact.uri is not None:
            continue
        result.records += 1
        record = f"{artifact.kind} {artifact.ref}"
        intact = check(record, "data", artifact.digest)
        for part, digest in metadata_blobs(artifact.kind, artifact.metadata):
            check(record, part, digest)
        if intact and is_manifest(artifact.metadata):
            for path, digest in _manifest(ws, artifact, result.damage):
                check(record, f"file {path}", digest)
    result.blobs = len(problems)
    return result


def _manifest(ws: Workspace, artifact: Artifact, damage: list[Damage]) -> list[tuple[str, str]]:
    """(path, digest) of each file a folder's manifest names; an unreadable manifest
    is damage."""
    from loopml.data._files import read_manifest

    try:
        entries = read_manifest(ws.artifacts.read_bytes(artifact.digest))
    except (ValueError, KeyError, TypeError, InvalidInput) as error:
        record = f"{artifact.kind} {artifact.ref}"
        message = f"{record}: its blob {artifact.digest} is not a folder manifest ({error})"
        damage.append(Damage(record, "data", artifact.digest, "not a manifest", message))
        return []
    return [(entry.path, entry.digest) for entry in entries]


def _problem(ws: Workspace, digest: str) -> tuple[str, str] | None:
    try:
        ws.artifacts.verify(digest)
    except BlobMissing as error:
        return "missing", str(error)
    except IntegrityError as error:
        return "corrupt", str(error)
    except InvalidInput as error:
        return "not a digest", str(error)
    return None
