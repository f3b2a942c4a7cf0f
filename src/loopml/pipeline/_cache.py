"""Cache keys of steps, and finding a cached output that can still be trusted.

A step's key is the blake3 digest of its name, its code fingerprint (the function and
the project code it calls), its parameters and the digests of its inputs. The first
layer of the cache maps key -> the run that computed it (the run's ``fingerprint``);
the second is the artifact store, digest -> bytes. A hit is only used after the output
blob is read back and its digest checked: a missing or corrupt blob means recompute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.artifacts import digest_bytes
from loopml.errors import IntegrityError, NotFound

if TYPE_CHECKING:
    from loopml.artifacts import ArtifactStore
    from loopml.store import Artifact, Event, MetadataStore, Run

KEY_FORMAT = "loopml.step-key/2"  # /2: code read by bytecode, values, input code
# What a step may read by a reference that moves.
READ_KINDS = (ArtifactKind.DATASET, ArtifactKind.MODEL)


def cache_key(step: str, code: str, params: dict[str, Any], inputs: dict[str, str]) -> str:
    text = json.dumps(
        {"format": KEY_FORMAT, "step": step, "code": code, "params": params, "inputs": inputs},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=True,
    )
    return digest_bytes(text.encode())


@dataclass(frozen=True)
class Hit:
    run: Run
    output: Artifact


def output_of(store: MetadataStore, run_id: str) -> Artifact | None:
    """The artifact a step run wrote as its output."""
    return _output(store, store.events(run_id=run_id))


def _output(store: MetadataStore, events: list[Event]) -> Artifact | None:
    for event in events:
        if event.direction == "output" and event.role == "output":
            return store.get_artifact(event.artifact_id)
    return None


def find_hit(
    store: MetadataStore, artifacts: ArtifactStore, key: str, *, verify: bool = True
) -> tuple[Hit | None, str | None]:
    """The newest succeeded run with this key whose output is intact and whose reads by
    reference still resolve as they did; or None, and why a recorded one was not used."""
    from loopml.store import RunStatus

    rejected = None
    for run in reversed(store.find_runs(fingerprint=key, status=RunStatus.SUCCEEDED)):
        events = store.events(run_id=run.id)
        output = _output(store, events)
        if output is None:
            continue
        moved = moved_reads(store, events)
        if moved:
            rejected = f"cached output {output.ref} cannot be used: {moved}"
            continue
        if verify:
            try:
                artifacts.verify(output.digest, what=f"cached output {output.ref}")
            except (NotFound, IntegrityError) as error:
                rejected = f"cached output {output.ref} cannot be used: {error}"
                # A corrupt blob would survive a put of the right bytes: drop it first.
                artifacts.discard_if_damaged(output.digest)
                continue
        return Hit(run, output), None
    return None, rejected


def moved_reads(store: MetadataStore, events: list[Event]) -> str | None:
    """What a run read by reference (``loopml.data.get("churn@latest")`` in a step) that
    resolves to another version now; None when every such read is as it was. The key
    cannot hold these (they are known only once the step has run), so a hit is checked
    against them instead."""
    from loopml.data._pins import pinned_ref
    from loopml.errors import LoopmlError
    from loopml.refs import resolve

    for event in events:
        kind, _, ref = event.role.partition(" ")
        if event.direction != "input" or not ref or kind not in READ_KINDS:
            continue
        try:
            now = resolve(store, kind, pinned_ref(ref) if kind == ArtifactKind.DATASET else ref)
        except LoopmlError as error:
            return f"it read {kind} {ref}, which cannot be found now ({error})"
        if now.id != event.artifact_id:
            then = store.get_artifact(event.artifact_id)
            return f"it read {kind} {ref}, which is {now.ref} now ({then.ref} when it ran)"
    return None
