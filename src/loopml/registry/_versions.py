"""Model versions as the registry shows them, and finding them by reference with errors
that say what to give instead."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml._paging import Page
    from loopml.models import Signature
    from loopml.store import Alias, Artifact, MetadataStore
    from loopml.workspace import Workspace

CHAMPION = "champion"
PREVIOUS = "previous"
EVALUATION_KEY = "evaluation_id"
COPIES_KEY = "copies"
SERVED_KEY = "served"
NATIVE_LATENCY_KEY = "native_latency_ms"
NATIVE = "native"  # the model as saved through its flavor, not a copy


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model: its artifact, and the aliases pointing at it.

    A snapshot: promoting another version later does not change ``aliases`` here.
    """

    artifact: Artifact
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``name@vN``."""
        return self.artifact.ref

    @property
    def name(self) -> str:
        return self.artifact.name

    @property
    def version(self) -> int:
        return self.artifact.version

    @property
    def flavor(self) -> str | None:
        flavor = self.artifact.metadata.get("flavor")
        return flavor if isinstance(flavor, str) else None

    @property
    def libraries(self) -> dict[str, str]:
        """Import name to the version the model was saved with."""
        return dict(self.artifact.metadata.get("libraries") or {})

    @property
    def signature(self) -> Signature | None:
        stored = self.artifact.metadata.get("signature")
        if not stored:
            return None
        from loopml.models import Signature

        return Signature.from_dict(stored)

    @property
    def evaluation_id(self) -> str | None:
        """The id of the evaluation artifact it was registered with, if any."""
        found = self.artifact.metadata.get(EVALUATION_KEY)
        return found if isinstance(found, str) else None

    @property
    def copies(self) -> dict[str, dict[str, Any]]:
        """The model in other formats, stored with it, by format (``onnx``): each copy's
        ``artifact_id``, ``digest`` and ``size``, how it agreed with the model on the
        ``rows`` it was checked on, and its one-row ``latency_ms``."""
        stored = self.artifact.metadata.get(COPIES_KEY) or {}
        return {found: dict(copy) for found, copy in stored.items()}

    @property
    def served(self) -> str:
        """The copy :func:`~loopml.registry.load_served` loads when its caller does not
        choose one: ``native`` (the model itself) or a format of :attr:`copies`, such as
        ``onnx``."""
        found = self.artifact.metadata.get(SERVED_KEY)
        return found if isinstance(found, str) else NATIVE

    @property
    def native_latency_ms(self) -> float | None:
        """The model's own one-row latency, measured next to its copies', if any."""
        found = self.artifact.metadata.get(NATIVE_LATENCY_KEY)
        return float(found) if isinstance(found, int | float) else None

    def to_dict(self) -> dict[str, Any]:
        """The version as plain JSON values."""
        meta = self.artifact.metadata
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "id": self.artifact.id,
            "digest": self.artifact.digest,
            "size": self.artifact.size,
            "created_at": self.artifact.created_at.isoformat(),
            "flavor": self.flavor,
            "serialization": meta.get("serialization"),
            "python_type": meta.get("python_type"),
            "libraries": self.libraries,
            "signature": meta.get("signature"),
            "evaluation_id": self.evaluation_id,
            "copies": self.copies,
            "served": self.served,
            "native_latency_ms": self.native_latency_ms,
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A model name: how many versions it has, the latest one, and which version each
    alias points at."""

    name: str
    count: int
    latest: ModelVersion
    aliases: dict[str, int]


def resolve_model(store: MetadataStore, ref: str, *, field: str = "ref") -> Artifact:
    """The model version ``ref`` points at (``churn``, ``churn@v3``, ``churn@champion``),
    or an error naming what is there instead and how to list what can be given;
    ``field`` is the argument that holds ``ref``."""
    from loopml.refs import parse, resolve

    name = parse(ref, field=field).name
    try:
        return resolve(store, ArtifactKind.MODEL, ref, field=field)
    except NotFound as error:
        require_model(store, name, ref, field=field)
        # the reference first: after "the latest is v2" it read as if it were the latest
        listing = f"`loopml models list {name}` lists its versions and aliases"
        raise NotFound(f"{ref}: {error}; {listing}") from None


def require_model(
    store: MetadataStore, name: str, given: str | None = None, *, field: str = "name"
) -> list[Artifact]:
    """Every version of model ``name``, oldest first; NotFound or InvalidInput (a name
    of something else, such as a dataset) when there is none. ``field`` is the argument
    that holds ``name`` (or ``given``, the reference it comes from)."""
    from loopml.refs import check_name

    check_name(name, "model name", field=field)
    found = store.find_artifacts(kind=ArtifactKind.MODEL, name=name)
    if found:
        return found
    others = sorted({artifact.kind for artifact in store.find_artifacts(name=name)})
    if others:
        raise InvalidInput(
            f"{given or name} is not a model: {name!r} names a {' and a '.join(others)} in "
            "this workspace; give a registered model (`loopml models list` lists them)",
            field=field,
        )
    raise NotFound(
        f"no model named {name!r} in this workspace; `loopml models list` lists the models, "
        "and loopml.register(model, name) registers one"
    )


def version_of(store: MetadataStore, artifact: Artifact) -> ModelVersion:
    """``artifact`` with the aliases that point at it now."""
    aliases = store.aliases(kind=ArtifactKind.MODEL, name=artifact.name)
    return ModelVersion(artifact, _alias_names(aliases, artifact))


def alias_target(store: MetadataStore, name: str, alias: str) -> str | None:
    """The artifact id ``alias`` of model ``name`` points at, or None."""
    for found in store.aliases(kind=ArtifactKind.MODEL, name=name):
        if found.alias == alias:
            return found.artifact_id
    return None


def get(ref: str, *, workspace: Workspace | None = None) -> ModelVersion:
    """The model version a reference points at: ``churn``, ``churn@v3``,
    ``churn@latest``, ``churn@champion``, ``churn@blake3:1f2e3d4c``."""
    store = workspace_in_use(workspace).store
    return version_of(store, resolve_model(store, ref))


def versions(name: str, *, workspace: Workspace | None = None) -> list[ModelVersion]:
    """Every version of model ``name``, oldest first, each with its aliases."""
    store = workspace_in_use(workspace).store
    found = require_model(store, name)
    aliases = store.aliases(kind=ArtifactKind.MODEL, name=name)
    return [ModelVersion(artifact, _alias_names(aliases, artifact)) for artifact in found]


def models(*, workspace: Workspace | None = None) -> list[RegisteredModel]:
    """Every registered model, by name, with its latest version and its aliases."""
    store = workspace_in_use(workspace).store
    every: dict[str, list[Artifact]] = {}
    for artifact in store.find_artifacts(kind=ArtifactKind.MODEL):  # in name, version order
        every.setdefault(artifact.name, []).append(artifact)
    aliases: dict[str, list[Alias]] = {}
    for alias in store.aliases(kind=ArtifactKind.MODEL):
        aliases.setdefault(alias.name, []).append(alias)
    listed = []
    for name, found in every.items():
        number = {artifact.id: artifact.version for artifact in found}
        latest = ModelVersion(found[-1], _alias_names(aliases.get(name, ()), found[-1]))
        pointing = {a.alias: number[a.artifact_id] for a in aliases.get(name, ())}
        listed.append(RegisteredModel(name, len(found), latest, pointing))
    return listed


def list_models(
    *, limit: int = 50, cursor: str | None = None, workspace: Workspace | None = None
) -> Page[RegisteredModel]:
    """Registered models by name, as :func:`models` gives them, ``limit`` at a time: give
    the page's ``next_cursor`` back as ``cursor`` for the models after it (a page
    starts after the last name of the one before, so models registered meanwhile do not
    shift the pages)."""
    from loopml._paging import Page, decode_cursor, encode_cursor, page_limit

    limit = page_limit(limit)
    after = None if cursor is None else decode_cursor(cursor, "models", ())
    store = workspace_in_use(workspace).store
    # One more than the page, to know whether another page follows.
    found = store.latest_artifacts(ArtifactKind.MODEL, after_name=after, limit=limit + 1)
    page = [_registered(store, latest) for latest in found[:limit]]
    more = len(found) > limit
    return Page(page, encode_cursor("models", (), page[-1].name) if more else None)


def _registered(store: MetadataStore, latest: Artifact) -> RegisteredModel:
    """The model whose latest version is ``latest``, read without its older versions."""
    aliases = store.aliases(kind=ArtifactKind.MODEL, name=latest.name)
    pointing = {
        a.alias: latest.version
        if a.artifact_id == latest.id
        else store.get_artifact(a.artifact_id).version
        for a in aliases
    }
    version = ModelVersion(latest, _alias_names(aliases, latest))
    return RegisteredModel(latest.name, latest.version, version, pointing)


def _alias_names(aliases: Iterable[Alias], artifact: Artifact) -> tuple[str, ...]:
    return tuple(a.alias for a in aliases if a.artifact_id == artifact.id)
