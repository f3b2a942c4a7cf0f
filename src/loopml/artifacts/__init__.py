"""The content-addressed artifact store: blake3 digests over a folder or fsspec storage."""

from loopml.artifacts._digest import digest_bytes
from loopml.artifacts._store import ArtifactStore, Blob

__all__ = ["ArtifactStore", "Blob", "digest_bytes"]
