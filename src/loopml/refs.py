"""Names and references of versioned artifacts: ``churn``, ``churn@v3``, ``churn@latest``,
``churn@champion`` (an alias) and ``churn@blake3:1f2e3d4c`` (a digest or its prefix).

>>> parse("churn@v3")
Ref(name='churn', selector='v3')
>>> parse("team/churn").selector
'latest'

Records made *for* a version — its validations and their reports, the evaluations and
gate decisions of a model version — are named after that version, so that their own
counter is never read as the version's:

>>> record_name("churn@v2", "validation")
'churn.v2.validation'
>>> record_name(None, "gate", "churn")
'churn.gate'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

from loopml.errors import InvalidInput, NotFound
from loopml.store import Artifact, MetadataStore
from loopml.store.values import check_name as check_name

_VERSION = re.compile(r"v([1-9][0-9]*)")
_DIGEST = re.compile(r"blake3:([0-9a-f]{8,64})")
_SELECTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*|blake3:.*")
_MIN_DIGEST_PREFIX = 8
_RECORD = re.compile(r"(?P<of>.+)\.v(?P<version>[1-9][0-9]*)\.(?P<what>[a-z][a-z-]*)")
_NAMED_RECORD = re.compile(r"(?P<of>.+)\.(?P<what>[a-z][a-z-]*)")


class Ref(NamedTuple):
    name: str
    selector: str


def parse(ref: str, *, field: str | None = None) -> Ref:
    if not isinstance(ref, str):
        raise InvalidInput(
            f"reference {ref!r} is not text but {type(ref).__name__}; give one such as "
            "'churn', 'churn@v3' or 'churn@champion'",
            field=field,
        )
    name, _, selector = ref.partition("@")
    check_name(name, field=field)
    if "@" in ref and not selector:
        raise InvalidInput(
            f"reference {ref!r} ends with '@'; add v3, latest or an alias", field=field
        )
    if selector and not _SELECTOR.fullmatch(selector):
        raise InvalidInput(
            f"reference {ref!r}: {selector!r} is not a version (v3), latest, an alias name "
            "or blake3:DIGEST",
            field=field,
        )
    return Ref(name, selector or "latest")


def resolve(store: MetadataStore, kind: str, ref: str, *, field: str | None = None) -> Artifact:
    """The artifact of ``kind`` a reference points at; a reference loopml cannot read
    is InvalidInput naming ``field``, the argument that holds it."""
    name, selector = parse(ref, field=field)
    if selector == "latest":
        return store.latest_artifact(kind, name)
    if version := _VERSION.fullmatch(selector):
        return store.get_artifact_version(kind, name, int(version.group(1)))
    if digest := _DIGEST.fullmatch(selector):
        return _by_digest(store, kind, name, digest.group(1), ref, field)
    if selector.startswith("blake3:"):
        raise InvalidInput(
            f"reference {ref!r}: after 'blake3:' give {_MIN_DIGEST_PREFIX} to 64 lowercase "
            "hex digits of the digest",
            field=field,
        )
    alias = store.get_alias(kind, name, selector)
    return store.get_artifact(alias.artifact_id)


def _by_digest(
    store: MetadataStore, kind: str, name: str, prefix: str, ref: str, field: str | None
) -> Artifact:
    matches = [
        artifact
        for artifact in store.find_artifacts(kind=kind, name=name)
        if artifact.digest.startswith(prefix)
    ]
    distinct = {artifact.digest for artifact in matches}
    if not matches:
        raise NotFound(f"no version of {kind} {name!r} has a digest starting {prefix} ({ref})")
    if len(distinct) > 1:
        raise InvalidInput(
            f"reference {ref!r} matches {len(distinct)} digests; give more digits", field=field
        )
    return matches[-1]


MAX_ROLE = 255  # what an event's role may hold


def named_digests(store: MetadataStore, ref: str) -> set[str]:
    """The digests of the records of any kind that ``ref`` names by version or digest
    (``churn@v3``, ``churn@blake3:1f2e...``): a model a step saved and the version it
    was registered as hold the same bytes. Empty for another selector."""
    name, _, selector = ref.partition("@")
    return {
        artifact.digest
        for artifact in store.find_artifacts(name=name)
        if selector in (f"v{artifact.version}", f"blake3:{artifact.digest}")
    }


def read_role(kind: str, ref: str) -> str:
    """The role of an input a run read by reference (``dataset churn@latest``): what a
    cached pipeline step resolves again before its output is used again. A parameter
    name, the other kind of role, never holds a space."""
    return f"{kind} {ref}"[:MAX_ROLE]


Read = tuple[str, str, str]  # kind, the ref as given, the artifact it named
_NOTED: ContextVar[list[Read] | None] = ContextVar("loopml_noted_reads", default=None)


@contextmanager
def noting_reads() -> Iterator[list[Read]]:
    """Collect what is read by reference inside the block (a pipeline's body tracing
    ``loopml.data.get("churn@latest")``): what a later run must resolve again."""
    reads: list[Read] = []
    token = _NOTED.set(reads)
    try:
        yield reads
    finally:
        _NOTED.reset(token)


def note_read(kind: str, ref: str, artifact: Artifact) -> None:
    noted = _NOTED.get()
    if noted is not None:
        noted.append((kind, ref, artifact.id))


def record_name(of: str | None, what: str, fallback: str | None = None) -> str:
    """The name of a record of ``what`` (``validation``, ``report``, ``evaluation``,
    ``gate``) made for the version ``of``: ``churn@v2`` gives ``churn.v2.validation``,
    whose ``@v3`` is the third validation of churn@v2. Without a version, the record is
    named ``FALLBACK.WHAT``, or ``WHAT`` alone."""
    if of is not None:
        name, _, selector = of.partition("@")
        if _VERSION.fullmatch(selector):
            return check_name(f"{name}.{selector}.{what}", f"{what} name")
        fallback = fallback or name
    return check_name(what if fallback is None else f"{fallback}.{what}", f"{what} name")


def record_owner(artifact: Artifact) -> tuple[str, int | None] | None:
    """Whose record ``artifact`` is, from its name: ``("churn", 2)`` for
    ``churn.v2.validation``, ``("churn", None)`` for ``churn.gate``; None for a name
    not made by :func:`record_name` (a record named before this scheme)."""
    for pattern in (_RECORD, _NAMED_RECORD):
        found = pattern.fullmatch(artifact.name)
        if found is not None and found["what"] == artifact.kind:
            version = found.groupdict().get("version")
            return found["of"], None if version is None else int(version)
    return None


def describe_record(artifact: Artifact) -> str:
    """A record as a person reads it: ``validation 3 of churn@v2
    (churn.v2.validation@v3)``, ``gate 2 for churn (churn.gate@v2)``; a record named
    otherwise (as records were before) as ``validation churn@v3``."""
    kind, number = artifact.kind, artifact.version
    owner = record_owner(artifact)
    if owner is not None:
        of, version = owner
        whose = f"for {of}" if version is None else f"of {of}@v{version}"
        return f"{kind} {number} {whose} ({artifact.ref})"
    if artifact.name == kind:
        return f"{kind} {number} ({artifact.ref})"
    return f"{kind} {artifact.ref}"
