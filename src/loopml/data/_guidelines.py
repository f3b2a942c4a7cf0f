"""Labelling guidelines: a Markdown file kept with a dataset, saying how its rows are
to be labelled. The review queue shows them beside every item it hands a reviewer.

The guidelines of dataset ``churn`` are artifact records of kind ``guidelines`` named
``churn``, each version a text blob in the artifact store; the latest is the one in
force. Setting text equal to the latest keeps that version.

>>> import tempfile, polars as pl, loopml
>>> ws = loopml.init(tempfile.mkdtemp())
>>> _ = loopml.data.add(pl.DataFrame({"text": ["hi"], "spam": [0]}), name="mail", workspace=ws)
>>> set_guidelines("mail", text="# Spam\\nA message is spam when ...", workspace=ws).version
1
>>> guidelines("mail", workspace=ws).text.splitlines()[0]
'# Spam'
>>> ws.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound
from loopml.refs import check_name

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class Guidelines:
    """One version of a dataset's labelling guidelines."""

    dataset: str
    version: int
    text: str
    source: str | None
    artifact: Artifact

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "source": self.source,
            "created_at": self.artifact.created_at.isoformat(),
            "text": self.text,
        }


def set_guidelines(
    name: str,
    file: str | Path | None = None,
    *,
    text: str | None = None,
    workspace: Workspace | None = None,
) -> Guidelines:
    """Keep the Markdown ``file`` (or ``text``) as the labelling guidelines of dataset
    ``name``; the dataset must exist. Unchanged text keeps the current version."""
    from loopml._context import workspace_in_use
    from loopml.data._versions import get_version
    from loopml.workspace import record_version

    check_name(name, "dataset name", field="name")
    if (file is None) == (text is None):
        raise InvalidInput(
            f"give the guidelines of dataset {name!r} as a file or as text=, one of the two",
            field="file",
        )
    source = None
    if file is not None:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(
                f"cannot read guidelines file {path}: {error}; give a Markdown file in UTF-8",
                field="file",
            ) from None
        source = path.name
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(
            f"the guidelines of dataset {name!r} are empty; write how its rows are to be "
            "labelled (Markdown), with an example of each class",
            field="text",
        )
    ws = workspace_in_use(workspace)
    get_version(ws, f"{name}@v1")  # the dataset must exist
    blob = ws.artifacts.put_bytes(text.encode("utf-8"))
    artifact = record_version(
        ws,
        blob.digest,
        blob.size,
        kind=ArtifactKind.GUIDELINES,
        name=name,
        metadata={"format": "markdown", "source": source, "file_name": f"{name}.guidelines.md"},
    )
    return _guidelines(ws, artifact)


def guidelines(name: str, *, workspace: Workspace | None = None) -> Guidelines:
    """The labelling guidelines of dataset ``name`` in force (NotFound when it has
    none, saying how to set them)."""
    from loopml._context import workspace_in_use

    found = guidelines_of(workspace_in_use(workspace), name)
    if found is None:
        raise NotFound(
            f"dataset {name!r} has no labelling guidelines; keep a Markdown file as them "
            f"with `loopml data guidelines {name} FILE`"
        )
    return found


def guidelines_of(ws: Workspace, name: str) -> Guidelines | None:
    """The guidelines in force for dataset ``name``, or None."""
    check_name(name, "dataset name", field="name")
    artifact = ws.latest(ArtifactKind.GUIDELINES, name)
    return None if artifact is None else _guidelines(ws, artifact)


def _guidelines(ws: Workspace, artifact: Artifact) -> Guidelines:
    data = ws.artifacts.read_bytes(artifact.digest, what=f"the guidelines {artifact.ref}")
    source = artifact.metadata.get("source")
    return Guidelines(
        dataset=artifact.name,
        version=artifact.version,
        text=data.decode("utf-8"),
        source=source if isinstance(source, str) else None,
        artifact=artifact,
    )
