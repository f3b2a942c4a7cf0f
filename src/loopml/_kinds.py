"""The kinds of artifact record loopml's own code makes, and the blobs each points to.

A record of one of these kinds is read by the code that made it, which counts on what
it wrote (a dataset's format and profile, a model's flavor, an evaluation's JSON): a
record of the kind made any other way breaks ``loopml data show`` and the like. So the
calls that record a user's bytes (``loopml artifacts put``,
:meth:`loopml.Workspace.add_file` and :meth:`loopml.Workspace.record`) refuse these
kinds, naming what makes them; any other kind (``file`` by default) is the user's.

Every record points to its own blob (its digest); some point to more, and this is the
one place that says which: :data:`BLOB_KEYS` names the metadata fields that hold blob
digests, and a record whose ``format`` is in :data:`MANIFEST_FORMATS` is a folder
whose manifest names one blob per file. ``loopml verify`` checks them all.

>>> ArtifactKind.MODEL == "model", str(ArtifactKind.MODEL_COPY)
(True, 'model-copy')
>>> check_user_kind("notes")
'notes'
>>> check_user_kind("dataset")
Traceback (most recent call last):
...
loopml.errors.InvalidInput: kind 'dataset' is loopml's own: ...
>>> [part for part, digest in metadata_blobs("model", {"copies": {"onnx": {"digest": "ab"}}})]
['onnx copy']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from loopml.errors import InvalidInput


class ArtifactKind(StrEnum):
    """The kind of an artifact record, by the text the store keeps (a member equals
    that text, so records read back as plain strings compare equal to it)."""

    DATASET = "dataset"
    SCHEMA = "schema"
    VALIDATION = "validation"
    REPORT = "report"
    OUTPUT = "output"
    LOG = "log"
    MODEL = "model"
    MODEL_COPY = "model-copy"
    EVALUATION = "evaluation"
    EVALUATION_ROWS = "evaluation-rows"
    GATE = "gate"
    DRIFT = "drift"
    SUMMARY = "summary"
    REPRODUCTION = "reproduction"
    OBJECT = "object"
    PREDICTIONS = "predictions"
    FEEDBACK = "feedback"
    LOOP = "loop"
    DECISION = "decision"
    GUIDELINES = "guidelines"
    FILE = "file"  # the user's: the default kind of a file recorded as it is


# Each kind loopml's code records, and what makes a record of it.
OWNED_KINDS: dict[str, str] = {
    ArtifactKind.DATASET: "`loopml data add` (loopml.data.add)",
    ArtifactKind.SCHEMA: "`loopml data schema NAME --set FILE` (loopml.data.set_schema)",
    ArtifactKind.VALIDATION: "`loopml data validate` (loopml.data.validate)",
    ArtifactKind.REPORT: "`loopml data validate` (loopml.data.validate)",
    ArtifactKind.OUTPUT: "`loopml run`, from what a pipeline step returns",
    ArtifactKind.LOG: "`loopml run`, from what a pipeline step prints",
    ArtifactKind.MODEL: "loopml.models.save_model or loopml.register",
    ArtifactKind.MODEL_COPY: "loopml.register(model, name, onnx=rows)",
    ArtifactKind.EVALUATION: "loopml.evaluate",
    ArtifactKind.EVALUATION_ROWS: "loopml.evaluate, from the rows it is given",
    ArtifactKind.GATE: "loopml.gate",
    ArtifactKind.DRIFT: "loopml.monitor.drift_windows, which keeps the windows it computed",
    ArtifactKind.SUMMARY: "loopml.monitor.drift_windows, from each prediction segment it reads",
    ArtifactKind.REPRODUCTION: "`loopml models reproduce`",
    ArtifactKind.OBJECT: "loopml.log_artifact(value, name=...)",
    ArtifactKind.PREDICTIONS: "the model server's prediction log (loopml.serve.PredictionLog)",
    ArtifactKind.FEEDBACK: "loopml.feedback and the model server's feedback log",
    ArtifactKind.LOOP: "`loopml loop define FILE` (loopml.monitor.define_loop)",
    ArtifactKind.DECISION: "the loop controller, `loopml loop` (loopml.monitor.run_loop)",
    ArtifactKind.GUIDELINES: "`loopml data guidelines NAME FILE` (loopml.data.set_guidelines)",
}

# Metadata fields that hold the digest of a blob the record needs, by kind, each with
# what the blob is; a ``*`` part stands for every key of the mapping at that level,
# and ``{}`` in the name for that key.
BLOB_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    ArtifactKind.DATASET: (
        ("profile", "profile"),
        ("profile_quantiles", "profile quantiles"),
        ("profile_order_stats", "profile order statistics"),
        ("profile_counts", "profile value counts"),
        ("profile_sample", "profile sample"),
        ("row_hashes", "row hashes"),
    ),
    ArtifactKind.MODEL: (("copies.*.digest", "{} copy"),),
}

# A record with one of these formats is a folder: its blob is a manifest of files.
MANIFEST_FORMATS = frozenset({"folder", "loopml.folder/1"})


def check_user_kind(kind: str) -> str:
    """``kind``, if a user may record bytes under it; InvalidInput naming what makes
    records of a kind loopml owns."""
    made_by = OWNED_KINDS.get(kind)
    if made_by is not None:
        raise InvalidInput(
            f"kind {kind!r} is loopml's own: its records are made by {made_by}, which "
            "reads them back; store this file as a kind of your own (the default is "
            "'file', e.g. --kind notes)"
        )
    return kind


def metadata_blobs(kind: str, metadata: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each (what the blob is, digest) that a record of ``kind`` names in its metadata."""
    for key, label in BLOB_KEYS.get(kind, ()):
        for found, digest in _find(metadata, key.split("."), []):
            yield label.format(*found), digest


def is_manifest(metadata: Mapping[str, Any]) -> bool:
    """Whether a record's blob is a folder manifest."""
    return metadata.get("format") in MANIFEST_FORMATS


def _find(value: Any, parts: list[str], stars: list[str]) -> Iterator[tuple[list[str], str]]:
    """(the keys that stood for each ``*``, value) of each string at the path ``parts``."""
    if not parts:
        if isinstance(value, str):  # a value that is not a digest is damage too
            yield stars, value
        return
    if not isinstance(value, Mapping):
        return
    head, rest = parts[0], parts[1:]
    if head != "*":
        if head in value:
            yield from _find(value[head], rest, stars)
        return
    for key in sorted(value, key=str):
        yield from _find(value[key], rest, [*stars, str(key)])
