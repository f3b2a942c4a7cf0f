"""Drift windows kept, so that a window is computed once and charted later.

Each computation that finished closed windows stores their rows (the tidy table of
:func:`~loopml.monitor.drift_windows`, those windows only) as one Parquet blob,
indexed as the next version of an artifact of kind ``drift`` named after the
deployment. Why an artifact per computation rather than metrics rows of a run: a
window's result is a table of text and numbers (the method, the summary, p-values
that may be empty), which metrics (one number per key and step) would scatter over
hundreds of keys and lose the text of; read back, the Parquet is the very table that
was computed, and a chart is a filter of it. Its metadata says what reading needs
without opening it: the window length, the settings ``key`` (the format, the
reference asked for), the windows it holds, and ``segments_version``, the highest
version of the deployment's prediction segments when it was computed.

A window is stored only once it is closed (its end is past) and is read back instead
of recomputed, unless the prediction log has a segment written after it was computed
that holds predictions of that window or of the one before it, which it was compared
with (a server that flushed late): then it is computed again and stored anew; the
latest stored copy of a window is the one read.

>>> hour = 3_600_000_000
>>> segments = [Segment(1, 0, 2 * hour), Segment(2, 24 * hour, 24 * hour + 5)]
>>> sorted(windows_with_data(segments, hour, 0, 48 * hour))
[0, 1, 2, 24]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopml._kinds import ArtifactKind
from loopml.monitor._kept import keep_frame, read_frame, records

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact
    from loopml.workspace import Workspace

LAYOUT = "loopml.drift/1"


@dataclass(frozen=True)
class Stored:
    """Windows read back (those without predictions too, so that they are not read
    again): their rows, the notes made when they were computed, and the answers left
    out of them."""

    windows: frozenset[int]
    rows: pl.DataFrame
    notes: tuple[str, ...]
    left_out: int


@dataclass(frozen=True)
class Segment:
    """A prediction segment's index record: its version and time range."""

    version: int
    first_us: int | None
    last_us: int | None


def prediction_segments(records: list[Artifact]) -> list[Segment]:
    """The versions and time ranges of prediction segments' index records."""
    found = []
    for artifact in records:
        first, last = artifact.metadata.get("first_us"), artifact.metadata.get("last_us")
        found.append(
            Segment(
                artifact.version,
                first if isinstance(first, int) else None,
                last if isinstance(last, int) else None,
            )
        )
    return found


def windows_with_data(segments: list[Segment], every_us: int, since: int, until: int) -> set[int]:
    """The windows in ``[since, until)`` (window numbers) some segment may hold
    predictions of, by the segments' time ranges (one with none recorded: all)."""
    found: set[int] = set()
    first_window, last_window = since // every_us, (until - 1) // every_us
    for segment in segments:
        low = first_window if segment.first_us is None else segment.first_us // every_us
        high = last_window if segment.last_us is None else segment.last_us // every_us
        found.update(range(max(low, first_window), min(high, last_window) + 1))
    return found


def stored_windows(
    ws: Workspace,
    deployment: str,
    key: str,
    segments: list[Segment],
    every_us: int,
    wanted: set[int],
) -> Stored | None:
    """The rows stored under ``key`` for the ``wanted`` windows that no later segment
    touches, each window from its latest stored copy; None when there are none."""
    import polars as pl

    latest: dict[int, Artifact] = {}
    for artifact in records(ws, ArtifactKind.DRIFT, deployment):
        meta = artifact.metadata
        if meta.get("layout") != LAYOUT or meta.get("key") != key:
            continue
        for window in meta.get("windows", ()):
            if window in wanted and (
                window not in latest or artifact.version > latest[window].version
            ):
                latest[window] = artifact
    fresh: dict[str, list[int]] = {}
    holders: dict[str, Artifact] = {}
    for window, artifact in latest.items():
        seen = artifact.metadata.get("segments_version", 0)
        # the window before too: its rows are what the window was compared with
        start, end = (window - 1) * every_us, (window + 1) * every_us
        late = any(
            segment.version > seen
            and (segment.first_us is None or segment.first_us < end)
            and (segment.last_us is None or segment.last_us >= start)
            for segment in segments
        )
        if not late:
            fresh.setdefault(artifact.id, []).append(window)
            holders[artifact.id] = artifact
    frames = []
    notes: dict[str, None] = {}
    left_out = 0
    for artifact_id, windows in fresh.items():
        artifact = holders[artifact_id]
        frame = read_frame(ws, artifact, f"drift windows {artifact.ref}")
        frames.append(frame.filter(pl.col("window").is_in(windows)))
        notes.update(dict.fromkeys(artifact.metadata.get("notes", ())))
        counts = artifact.metadata.get("left_out", {})
        left_out += sum(counts.get(str(window), 0) for window in windows)
    if not frames:
        return None
    read = frozenset(w for windows in fresh.values() for w in windows)
    return Stored(read, pl.concat(frames, how="vertical_relaxed"), tuple(notes), left_out)


def store_windows(
    ws: Workspace,
    deployment: str,
    key: str,
    windows: list[int],
    rows: pl.DataFrame,
    segments_version: int,
    notes: tuple[str, ...],
    left_out: dict[int, int],
) -> Artifact:
    """Store the rows of the closed ``windows`` (some may have none) as one blob, then
    its index record, with the notes made computing them and the answers left out of
    each."""
    return keep_frame(
        ws,
        ArtifactKind.DRIFT,
        deployment,
        rows,
        {
            "layout": LAYOUT,
            "key": key,
            "windows": windows,
            "segments_version": segments_version,
            "notes": list(notes),
            "left_out": {str(w): left_out[w] for w in windows if left_out.get(w)},
        },
    )


def settings_key(every_us: int, reference: str) -> str:
    """What stored windows must have been computed with to be read back."""
    return f"{LAYOUT};every_us={every_us};reference={reference}"
