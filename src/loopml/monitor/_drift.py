"""Drift on live traffic: each window of a deployment's logged inputs and predictions,
profiled and compared with the served version's training rows (train/serve skew) and
with the window before (drift), per column.

A window is a stretch of time of ``every`` (``"1h"``, ``"1d"``), counted from the unix
epoch as :func:`~loopml.monitor.live_metrics` counts them; its rows are the rows of
the requests answered in it, one per predicted row, with the request's columns and
the answer's ``predictions``, per version that answered. Each window is profiled by
the data area's own code (:func:`loopml.data.profile`) and compared by its own drift
judgement (:mod:`loopml.data._drift`): KS and Cramér-von Mises for numbers,
chi-square for categories, Holm's adjustment over the columns of one comparison (so
one window and version raises a false alarm in at most 5% of comparisons), and an
effect that must reach its threshold (Wasserstein 0.1 standard deviations, Jensen-
Shannon 0.1, a class share moving 5 points for the predictions of a classifier).
The predictions are the comparison's label column.

Window profiles keep 1,024 order statistics per numeric column (the data area keeps
8,192 for a dataset version): comparing two of them costs a sixth as much, and the
distances' proven bounds stay near 0.005 standard deviations, far below the 0.1 that
drift needs.

A window of whole hours (``"1h"``, ``"6h"``, ``"1d"``) of a log of at least 500
predictions an hour (a quieter one is profiled faster from its rows) is not profiled
from its rows:
each prediction segment's rows of each hour are summarized once, when drift first
reads them, and kept per hour (see :mod:`loopml.monitor._summaries`); a window's
profile is the merge of its hours' summaries (:mod:`loopml.data._parts`). Its moments
and counts are exact; its order statistics are exact for an hour of at most 256 rows
and otherwise bracketed, the brackets' width going into the distances' bounds. A
window of at most 5,000 rows whose values are all kept is tested on them as a
profile's sample would be (KS and Cramér-von Mises); a larger one by the KS test on
the order statistics, from the least statistic the brackets allow (never more alarms
than its level; see :func:`loopml.data._evidence.ks_test_bracketed`). Other windows
(``"90m"``) are profiled from their rows.

The training rows are found through the version's lineage (see
:mod:`loopml.monitor._drift_reference`). Windows are kept once closed and read back
instead of recomputed (see :mod:`loopml.monitor._drift_store`).

>>> import tempfile, loopml, numpy as np, polars as pl
>>> from loopml.serve import PredictionLog, PredictionRecord
>>> ws = loopml.init(tempfile.mkdtemp())
>>> day, rng = 86_400_000_000, np.random.default_rng(0)
>>> with PredictionLog(ws) as log:
...     for n in range(600):  # two days; the second's x is 1 sd higher
...         x = rng.normal(size=1) + (n >= 300)
...         log.append(PredictionRecord(f"p{n}", None, 20_000 * day + n // 300 * day + n,
...             "churn", "churn@v1", 0, 1.0, {"x": x}, {"predictions": (x > 0) * 1}, 300, None))
>>> train = pl.DataFrame({"x": rng.normal(size=2000)})
>>> found = drift_windows("churn", every="1d", reference=train, workspace=ws)
>>> found.drifted().select("window", "comparison", "column").rows()
[(20001, 'training', 'x'), (20001, 'previous', 'x'), (20001, 'previous', 'predictions')]
>>> found.computed, found.saved, found.notes[0].startswith("churn@v1: its predictions")
(2, 2, True)
>>> ws.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.monitor._drift_rows import PREDICTIONS
from loopml.monitor._summaries import HOUR_US

if TYPE_CHECKING:
    import polars as pl

    from loopml.data import Profile
    from loopml.data._parts import ColumnPart
    from loopml.monitor._drift_reference import Reference
    from loopml.monitor._drift_store import Segment
    from loopml.store import Artifact
    from loopml.workspace import Workspace

WINDOW_POINTS = 1024  # order statistics kept per numeric column of a window's profile
# Below this many predictions an hour, windows are profiled from their rows: summarizing
# an hour costs about what profiling a few hundred of its rows does (measured: 7,300
# rows over 20 days, 0.2 s from rows, 0.6 s hour by hour; a million over 30 days,
# 1.5 s from kept summaries, about 4 s from rows).
SUMMARY_ROWS_PER_HOUR = 500
COMPARISONS = ("training", "previous")
COLUMNS = (
    "window",
    "window_start_us",
    "ref",
    "comparison",
    "reference",
    "column",
    "kind",
    "method",
    "statistic",
    "threshold",
    "p_value",
    "p_adjusted",
    "drifted",
    "rows",
    "reference_rows",
    "summary",
)


@dataclass(frozen=True)
class DriftWindows:
    """What :func:`drift_windows` found.

    ``table`` has one row per window, version that answered, comparison and column:
    ``window`` (its number) and ``window_start_us``, ``ref``, ``comparison``
    (``training`` or ``previous``), ``reference`` (what it was compared with, in
    words), ``column`` and its ``kind`` (``feature`` or ``prediction``), ``method``
    (the effect judged), ``statistic`` and its ``threshold``, ``p_value`` and
    ``p_adjusted`` (Holm's, over the comparison's columns; empty where the effect was
    below its threshold, so no test was needed), ``drifted``, ``rows`` and
    ``reference_rows``, ``summary`` (the change in words), and ``final`` (False for a
    window not yet closed, which is never stored). ``references`` says what each
    version's training comparison read; ``notes`` what could not be compared and why;
    ``computed`` counts the windows with predictions computed now, ``read_back`` and
    ``saved`` the windows read back and stored (a closed window without predictions
    is stored too, so that it is not looked at again); ``left_out`` counts answers
    whose rows could not be read (failed ones, or inputs and predictions of different
    lengths). ``segments_summarized`` counts the prediction segments summarized from
    their rows now, ``hours_read_back`` the hours whose kept summaries were read."""

    table: pl.DataFrame
    references: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    computed: int = 0
    read_back: int = 0
    saved: int = 0
    left_out: int = 0
    segments_summarized: int = 0
    hours_read_back: int = 0

    def drifted(self) -> pl.DataFrame:
        """The rows that drifted."""
        import polars as pl

        return self.table.filter(pl.col("drifted"))


def drift_windows(
    deployment: str,
    *,
    every: str = "1d",
    since: datetime | None = None,
    until: datetime | None = None,
    reference: Any = None,
    store: bool = True,
    workspace: Workspace | None = None,
) -> DriftWindows:
    """Drift of ``deployment``'s live inputs and predictions, window by window (see the
    module's text). ``since`` and ``until`` (naive: UTC) are widened to whole windows;
    without them, the whole log. ``reference`` replaces what the lineage finds: a
    dataset version (``"rain@v1"``) or the training rows (a DataFrame; a column
    ``predictions`` in it is taken as the model's predictions on them). With
    ``store``, closed windows are kept and, when kept already, read back, and the
    summaries of the hours over that were made now are kept (kept ones are read back
    whatever ``store`` says: a segment never changes)."""
    from loopml._context import workspace_in_use
    from loopml._time import now_us
    from loopml.monitor._drift_reference import given_key
    from loopml.monitor._drift_store import (
        prediction_segments,
        settings_key,
        stored_windows,
        windows_with_data,
    )
    from loopml.serve._layouts import PREDICTIONS as LOG
    from loopml.serve._segments import find_segments

    every_us = _every_us(every)
    if not isinstance(deployment, str) or not deployment:
        raise InvalidInput(
            f"deployment {deployment!r} must be a deployment's name", field="deployment"
        )
    ws = workspace_in_use(workspace)
    log = find_segments(ws, LOG, deployment)  # the index records, listed once
    segments = prediction_segments(log)
    span = _span(segments, since, until, every_us)
    if span is None:
        return DriftWindows(_empty())
    start, end = span
    wanted = windows_with_data(segments, every_us, start, end)
    key = settings_key(every_us, given_key(reference, ws))
    kept = stored_windows(ws, deployment, key, segments, every_us, wanted) if store else None
    read_back = set() if kept is None else set(kept.windows)
    todo = sorted(wanted - read_back)
    now = now_us()
    work = _Work(ws, deployment, every_us, reference, store, log)
    computed = work.compute(todo)
    computed = computed.with_columns((computed["window_start_us"] + every_us <= now).alias("final"))
    closed = [window for window in todo if (window + 1) * every_us <= now]
    if store and closed:
        from loopml.monitor._drift_store import store_windows

        version = max((s.version for s in segments), default=0)
        rows = computed.filter("final").drop("final")
        store_windows(ws, deployment, key, closed, rows, version, tuple(work.notes), work.left_out)
    frames, notes = [computed], list(work.notes)
    left_out = sum(work.left_out.get(w, 0) for w in todo)
    if kept is not None:
        frames.insert(0, kept.rows.with_columns(final=True))
        notes = [*kept.notes, *notes]
        left_out += kept.left_out
    table = _ordered(frames)
    training = table.filter(table["comparison"] == "training").select("ref", "reference")
    return DriftWindows(
        table,
        {**dict(training.unique(maintain_order=True).rows()), **work.sources},
        tuple(dict.fromkeys(notes)),
        computed=len(work.computed),
        read_back=len(read_back),
        saved=len(closed) if store else 0,
        left_out=left_out,
        segments_summarized=work.segments_summarized,
        hours_read_back=work.hours_read_back,
    )


@dataclass
class _Merged:
    """A window's rows of one version, and its columns' hour parts."""

    rows: int = 0
    columns: dict[str, list[ColumnPart]] = field(default_factory=dict)


class _Work:
    """One computation: the windows' rows read once, each profile made once, each
    version's training reference found once."""

    def __init__(
        self,
        ws: Workspace,
        deployment: str,
        every_us: int,
        reference: Any,
        keep: bool,
        log: list[Artifact],
    ) -> None:
        self.ws, self.deployment, self.every_us, self.keep = ws, deployment, every_us, keep
        self.log = log  # the deployment's prediction segments' index records
        self.reference = reference
        self.profiles: dict[tuple[int, str], Profile] = {}
        self.references: dict[str, tuple[Reference, Profile] | None] = {}
        self.sources: dict[str, str] = {}
        self.notes: list[str] = []
        self.left_out: dict[int, int] = {}  # answers left out, per window
        self.computed: set[int] = set()  # windows with predictions, profiled
        self.inputs: list[str] = []
        self.predictions: str | None = None
        self.segments_summarized = self.hours_read_back = 0  # see DriftWindows

    def compute(self, windows: Sequence[int]) -> pl.DataFrame:
        import polars as pl

        if not windows:
            return _empty()
        needed = sorted({*windows, *(w - 1 for w in windows)})
        by_key = self._summarized(needed) if self._summaries_pay(needed) else self._raw(needed)
        if by_key is None:
            self.notes.append(
                f"{self.deployment}'s requests hold no column of one value per row "
                "(numbers, text or flags) and no predictions: nothing to compare"
            )
            return _empty()
        found: list[dict[str, Any]] = []
        for window in windows:
            for ref in sorted(r for w, r in by_key if w == window):
                self.computed.add(window)
                current = self._profile(window, ref, by_key)
                found += self._training(window, ref, current)
                if (window - 1, ref) in by_key:
                    before = self._profile(window - 1, ref, by_key)
                    found += self._rows_of(
                        window, ref, "previous", "previous window", current, before
                    )
        return pl.DataFrame(found, schema=_schema(), orient="row") if found else _empty()

    def _summaries_pay(self, windows: list[int]) -> bool:
        """Whether the windows are read from hour summaries: windows of whole hours of a
        log of at least :data:`SUMMARY_ROWS_PER_HOUR` predictions an hour (by its
        segments' index records). A quieter log is profiled faster from its rows than
        hour by hour."""
        if self.every_us % HOUR_US:
            return False
        since, until = windows[0] * self.every_us, (windows[-1] + 1) * self.every_us
        segments = self._segments(since, until)
        counts = [s.metadata.get("rows") for s in segments]
        rows = sum(n for n in counts if isinstance(n, int))
        firsts = [s.metadata.get("first_us") for s in segments]
        lasts = [s.metadata.get("last_us") for s in segments]
        first = min((f for f in firsts if isinstance(f, int)), default=since)
        last = max((f for f in lasts if isinstance(f, int)), default=until - 1)
        hours = (min(last, until - 1) // HOUR_US) - (max(first, since) // HOUR_US) + 1
        return rows >= SUMMARY_ROWS_PER_HOUR * max(hours, 1)

    def _segments(self, since_us: int, until_us: int) -> list[Artifact]:
        """The prediction segments that may hold rows of ``[since_us, until_us)``."""
        from loopml.serve._segments import overlaps

        return [record for record in self.log if overlaps(record, since_us, until_us)]

    def _raw(self, windows: list[int]) -> dict[tuple[int, str], Any] | None:
        """Each window's rows, by window and version; None when they hold nothing to
        compare."""
        rows = self._rows(windows)
        if rows.height and rows.width <= 2:  # window and ref: nothing to compare
            return None
        parts = rows.partition_by(["window", "ref"], as_dict=True, include_key=False)
        return {(int(w), str(r)): part for (w, r), part in parts.items()}

    def _summarized(self, windows: list[int]) -> dict[tuple[int, str], Any] | None:
        """Each window's rows and its columns' hour parts, by window and version, from
        the segments' hour summaries; None when they hold nothing to compare."""
        from loopml.data._parts import family
        from loopml.monitor._drift_rows import OUTPUT
        from loopml.monitor._summaries import hour_summaries

        by_key: dict[tuple[int, str], _Merged] = {}
        inputs: dict[str, None] = {}
        for first, last in _runs(windows):
            since, until = first * self.every_us, (last + 1) * self.every_us
            segments = self._segments(since, until)
            hours = hour_summaries(self.ws, self.deployment, segments, since, until, keep=self.keep)
            self.segments_summarized += hours.made
            self.hours_read_back += hours.read
            inputs.update(hours.inputs)
            for hour, count in hours.left_out.items():
                window = hour * HOUR_US // self.every_us
                self.left_out[window] = self.left_out.get(window, 0) + count
            for (hour, ref), columns in hours.parts.items():
                merged = by_key.setdefault((hour * HOUR_US // self.every_us, ref), _Merged())
                merged.rows += hours.rows[hour, ref]
                for column, parts in columns.items():
                    merged.columns.setdefault(column, []).extend(parts)
        name = PREDICTIONS
        while name in inputs:  # an input of that name keeps it
            name += "_"
        self.inputs = list(inputs)
        has_output = any(OUTPUT in merged.columns for merged in by_key.values())
        self.predictions = name if has_output else None
        if by_key and not any(merged.columns for merged in by_key.values()):
            return None
        for (window, ref), merged in sorted(by_key.items()):
            if OUTPUT in merged.columns:
                merged.columns[name] = merged.columns.pop(OUTPUT)
            for column, parts in merged.columns.items():
                kinds = sorted({family(part.type) for part in parts})
                if len(kinds) > 1:
                    self.notes.append(
                        f"{ref}: {column!r} holds {' and '.join(kinds)} values in different "
                        f"requests of window {window}: not compared there"
                    )
        return dict(by_key)

    def _rows(self, windows: list[int]) -> pl.DataFrame:
        """The windows' predicted rows: window, ref, the input columns, predictions.

        Read from the segments directly, not through :func:`loopml.serve.predictions`:
        the rows need no time order, and of the outputs only the predictions (the
        probabilities are as many bytes again). Each segment is made flat before the
        next is read, so its nested columns' memory serves the next one."""
        import polars as pl

        from loopml.monitor._drift_rows import OUTPUT, flat_answers, segment_columns
        from loopml.serve._segments import read_segment

        flat: list[pl.DataFrame] = []
        inputs: dict[str, None] = {}
        for first, last in _runs(windows):
            since, until = first * self.every_us, (last + 1) * self.every_us
            for segment in self._segments(since, until):
                frame = read_segment(self.ws, segment, columns=segment_columns(segment))
                time = pl.col("time_us")
                one = flat_answers(frame.filter((time >= since) & (time < until)), self.every_us)
                inputs.update(dict.fromkeys(one.inputs))
                for number, count in one.left_out.items():
                    self.left_out[number] = self.left_out.get(number, 0) + count
                flat.append(one.rows)
        rows = pl.concat(flat, how="diagonal_relaxed") if flat else pl.DataFrame()
        name = PREDICTIONS
        while name in inputs:  # an input of that name keeps it
            name += "_"
        self.inputs = list(inputs)
        self.predictions = name if OUTPUT in rows.columns else None
        if not rows.width:
            return pl.DataFrame(schema={"window": pl.Int64, "ref": pl.String})
        return rows.rename({OUTPUT: name}, strict=False)

    def _profile(self, window: int, ref: str, by_key: dict[tuple[int, str], Any]) -> Profile:
        from loopml.data import profile
        from loopml.data._parts import merged_profile

        if (window, ref) not in self.profiles:
            rows = by_key[window, ref]
            self.profiles[window, ref] = (
                merged_profile(
                    rows.columns, rows.rows, label=self.predictions, points=WINDOW_POINTS
                )
                if isinstance(rows, _Merged)
                else profile(rows, label=self.predictions, points=WINDOW_POINTS)
            )
        return self.profiles[window, ref]

    def _training(self, window: int, ref: str, current: Profile) -> list[dict[str, Any]]:
        if ref not in self.references:
            self.references[ref] = self._reference(ref)
        found = self.references[ref]
        if found is None:
            return []
        reference, profiled = found
        return self._rows_of(window, ref, "training", reference.source, current, profiled)

    def _reference(self, ref: str) -> tuple[Reference, Profile] | None:
        from loopml.data import profile
        from loopml.monitor._drift_reference import find_reference

        found = find_reference(ref, self.reference, self.inputs, self.predictions, self.ws)
        if isinstance(found, str):
            self.notes.append(found)
            return None
        self.sources[ref] = found.source
        self.notes.extend(found.notes)
        label = self.predictions if self.predictions in found.frame.columns else None
        return found, profile(found.frame, label=label, points=WINDOW_POINTS)

    def _rows_of(
        self,
        window: int,
        ref: str,
        comparison: str,
        source: str,
        current: Profile,
        reference: Profile,
    ) -> list[dict[str, Any]]:
        from loopml.data._drift import compare

        drifts, _ = compare(
            current, reference, None, "skew" if comparison == "training" else "drift", brief=True
        )
        return [
            {
                "window": window,
                "window_start_us": window * self.every_us,
                "ref": ref,
                "comparison": comparison,
                "reference": source,
                "column": one.column,
                "kind": "prediction" if one.column == self.predictions else "feature",
                "method": one.method,
                "statistic": one.statistic,
                "threshold": one.threshold,
                "p_value": one.p_value,
                "p_adjusted": one.p_adjusted,
                "drifted": one.drifted,
                "rows": current.rows,
                "reference_rows": reference.rows,
                "summary": one.summary,
                "final": False,
            }
            for one in drifts
        ]


def _span(
    segments: list[Segment], since: datetime | None, until: datetime | None, every_us: int
) -> tuple[int, int] | None:
    """The whole windows from ``since`` to ``until`` (microseconds), by default from
    the log's first prediction to its last; None when there is no time between."""
    from loopml._time import to_us

    for name, moment in (("since", since), ("until", until)):
        if moment is not None and not isinstance(moment, datetime):
            raise InvalidInput(
                f"{name} {moment!r} must be a datetime (a naive one is taken as UTC), or None",
                field=name,
            )
    firsts = [s.first_us for s in segments if s.first_us is not None]
    lasts = [s.last_us for s in segments if s.last_us is not None]
    since_us = to_us(since) if since is not None else min(firsts, default=0)
    until_us = to_us(until) if until is not None else max(lasts, default=-1) + 1
    if since is not None and until is not None and since_us >= until_us:
        raise InvalidInput(
            f"since ({since}) is not before until ({until}): swap them", field="since"
        )
    if since_us >= until_us:
        return None
    return since_us // every_us * every_us, -(-until_us // every_us) * every_us


def _every_us(every: Any) -> int:
    from loopml.monitor._windows import _micros

    if not isinstance(every, str):
        raise InvalidInput(
            f"every {every!r} must be a duration such as '1h' or '1d' (drift is judged on "
            "windows of time, which stay the same when more predictions come)",
            field="every",
        )
    return _micros(every, counts=False)


def _runs(windows: list[int]) -> list[tuple[int, int]]:
    """Sorted window numbers as runs of consecutive ones: (first, last)."""
    runs: list[tuple[int, int]] = []
    for window in windows:
        if runs and runs[-1][1] == window - 1:
            runs[-1] = (runs[-1][0], window)
        else:
            runs.append((window, window))
    return runs


def _schema() -> dict[str, Any]:
    import polars as pl

    return {
        "window": pl.Int64,
        "window_start_us": pl.Int64,
        "ref": pl.String,
        "comparison": pl.String,
        "reference": pl.String,
        "column": pl.String,
        "kind": pl.String,
        "method": pl.String,
        "statistic": pl.Float64,
        "threshold": pl.Float64,
        "p_value": pl.Float64,
        "p_adjusted": pl.Float64,
        "drifted": pl.Boolean,
        "rows": pl.Int64,
        "reference_rows": pl.Int64,
        "summary": pl.String,
        "final": pl.Boolean,
    }


def _empty() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema=_schema())


def _ordered(frames: list[pl.DataFrame]) -> pl.DataFrame:
    import polars as pl

    table = pl.concat([f.select(list(_schema())) for f in frames], how="vertical_relaxed")
    order = pl.col("comparison").replace_strict(
        {"training": 0, "previous": 1}, return_dtype=pl.Int8
    )
    return (
        table.with_columns(order.alias("_order"))
        .sort("window", "ref", "_order", maintain_order=True)
        .drop("_order")
    )
