"""The prediction log and the feedback log: records appended in memory, written to
Parquet segments (blob, then index record), read back by time range, every segment
checked; nothing appended before close() is lost, and SIGKILL loses at most the
documented window."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import loopml
from loopml._verify import verify_workspace
from loopml.errors import DigestMismatch, InvalidInput, NotWritable
from loopml.serve import (
    FeedbackLog,
    FeedbackRecord,
    PredictionLog,
    PredictionRecord,
    feedback_records,
    find_prediction,
    predictions,
)
from loopml.serve._layouts import FEEDBACK as FEEDBACK_LAYOUT
from loopml.serve._layouts import PREDICTIONS as PREDICTIONS_LAYOUT

WORKER = Path(__file__).parent.parent / "workers" / "prediction_logger.py"
T0 = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC in microseconds


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def record(n: int, *, deployment: str = "churn", time_us: int | None = None, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "prediction_id": f"p{n:06d}",
        "request_id": f"req-{n}" if n % 2 else None,
        "time_us": T0 + n if time_us is None else time_us,
        "deployment": deployment,
        "ref": "churn@v3",
        "arm": n % 3,
        "probability": 0.25,
        "inputs": {"age": [30 + n], "plan": ["basic"]},
        "outputs": {"predictions": [n % 2], "probabilities": [[0.5, 0.5]]},
        "latency_us": 400 + n,
        "key": f"user-{n % 7}",
    }
    return PredictionRecord(**{**values, **fields})


def blob_file(ws: loopml.Workspace, digest: str) -> Path:
    """A blob's file in the local store, found by layout (not through loopml's reads)."""
    return Path(ws.artifacts.location) / "blobs" / digest[:2] / digest[2:]


def segments(ws: loopml.Workspace, kind: str = "predictions") -> list[Any]:
    return ws.store.find_artifacts(kind=kind)


def test_a_record_reads_back_as_it_was_appended(ws: loopml.Workspace) -> None:
    shadowed = record(
        2,
        arm=None,
        probability=None,
        inputs={"age": np.array([41, 42]), "score": np.float32(0.5)},
        outputs=None,
        shadow=True,
        fallback=True,
        error="ValueError: bad row",
    )
    log = PredictionLog(ws, worker="w1")
    log.append(record(1))
    log.append(shadowed)
    assert log.buffered == 2
    assert log.flush() == 2
    assert (log.written, log.dropped, log.buffered) == (2, 0, 0)

    frame = predictions("churn", workspace=ws)
    assert frame["prediction_id"].to_list() == ["p000001", "p000002"]
    assert frame.row(0, named=True) == {
        "prediction_id": "p000001",
        "request_id": "req-1",
        "time_us": T0 + 1,
        "deployment": "churn",
        "ref": "churn@v3",
        "arm": 1,
        "probability": 0.25,
        # typed: a struct of each name's values (a name of another record is None)
        "inputs": {"age": [31], "plan": ["basic"], "score": None},
        "outputs": {"predictions": [1], "probabilities": [[0.5, 0.5]]},
        "latency_us": 401,
        "key": "user-1",
        "fallback": False,
        "shadow": False,
        "error": None,
    }
    assert find_prediction("p000001", ws) == record(1)
    found = find_prediction("p000002", ws)
    assert found is not None
    assert found.inputs == {"age": [41, 42], "score": [0.5]}  # a scalar is one row
    assert (found.arm, found.probability, found.outputs) == (None, None, None)
    assert (found.shadow, found.fallback, found.error) == (True, True, "ValueError: bad row")
    assert find_prediction("p999999", ws) is None


def test_records_turned_into_tables_ahead_of_the_write_read_back_the_same(
    ws: loopml.Workspace,
) -> None:
    ahead, at_write = PredictionLog(ws), PredictionLog(ws)
    given = [
        record(n, inputs={"age": np.array([30.5 + n, 2.0]), "plan": np.array(["a", "b"])})
        for n in range(6)
    ]
    for each in given[:4]:
        ahead.append(each)
    ahead._encode()  # what the flusher does between writes
    for each in given[4:]:  # appended after: turned into a table at the write
        ahead.append(each)
    assert ahead.buffered == 6
    assert ahead.flush() == 6
    assert len(segments(ws)) == 1  # the two tables of one deployment, one segment
    for each in given:
        at_write.append(replace(each, deployment="other"))
    assert at_write.flush() == 6
    ours = predictions("churn", workspace=ws)
    theirs = predictions("other", workspace=ws)
    assert ours["inputs"].to_list() == theirs["inputs"].to_list()
    assert ours["outputs"].to_list() == theirs["outputs"].to_list()
    assert ours["inputs"][0] == {"age": [30.5, 2.0], "plan": ["a", "b"]}
    assert ours.schema["inputs"] == pl.Struct(
        {"age": pl.List(pl.Float64), "plan": pl.List(pl.String)}
    )


def test_values_of_clashing_types_are_kept_in_segments_of_their_own(
    ws: loopml.Workspace,
) -> None:
    log = PredictionLog(ws)
    log.append(record(1, inputs={"age": [41]}))
    log._encode()
    log.append(record(2, inputs={"age": ["forty"]}))  # text where numbers were
    log._encode()
    log.append(record(3, inputs={"age": [43.5]}))  # numbers again: widened with the first
    assert log.flush() == 3
    assert sorted(s.metadata["rows"] for s in segments(ws)) == [1, 2]
    found = {
        n: getattr(find_prediction(n, ws), "inputs", None)
        for n in ("p000001", "p000002", "p000003")
    }
    assert found == {
        "p000001": {"age": [41.0]},
        "p000002": {"age": ["forty"]},
        "p000003": {"age": [43.5]},
    }


def test_values_that_make_no_typed_column_are_kept_as_json_and_read_back(
    ws: loopml.Workspace,
) -> None:
    log = PredictionLog(ws)
    odd = {"age": [1, "one"], "nested": [[[1, 2]]]}  # mixed types, a 3-D value
    log.append(record(1, inputs=odd))
    assert log.flush() == 1
    assert find_prediction("p000001", ws).inputs == odd  # the record: exactly as given
    # in a frame, Polars types the JSON: a list of numbers and text becomes text
    assert predictions("churn", workspace=ws)["inputs"].to_list() == [
        {"age": ["1", "one"], "nested": [[[1, 2]]]}
    ]


def test_a_segment_is_indexed_with_its_worker_rows_and_times(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws, worker="host/7")
    for n in (5, 3, 9):
        log.append(record(n))
    log.append(record(4, deployment="fraud"))
    assert log.flush() == 4
    by_name = {artifact.name: artifact for artifact in segments(ws)}
    assert sorted(by_name) == ["churn", "fraud"]  # one segment per deployment
    churn = by_name["churn"]
    assert churn.metadata == {
        "format": "parquet",
        "layout": "loopml.predictions/2",
        "worker": "host/7",
        "rows": 3,
        "first_us": T0 + 3,
        "last_us": T0 + 9,
    }
    # The blob is a Parquet file stored under its digest.
    assert blob_file(ws, churn.digest).read_bytes()[:4] == b"PAR1"
    assert predictions("fraud", workspace=ws)["prediction_id"].to_list() == ["p000004"]
    assert predictions(workspace=ws).height == 4
    # Minimum and maximum kept for the columns a read filters on (a time range), not
    # for the inputs' and outputs' values, which no read filters on.
    group = pq.ParquetFile(blob_file(ws, churn.digest)).metadata.row_group(0)
    kept = {
        group.column(i).path_in_schema: group.column(i).is_stats_set
        for i in range(group.num_columns)
    }
    assert kept["deployment"]
    assert (kept["time_us"], group.column(2).statistics.min) == (True, T0 + 3)
    assert not any(kept[path] for path in kept if path.startswith(("inputs.", "outputs.")))
    # LZ4: written all the time, read seldom (zstd took twice the CPU)
    assert {group.column(i).compression for i in range(group.num_columns)} == {"LZ4"}


def test_appenders_on_many_threads_lose_nothing(ws: loopml.Workspace) -> None:
    threads, each = 8, 2_000
    log = PredictionLog(ws, flush_seconds=0.02)
    log.start()

    def append(thread: int) -> None:
        for n in range(each):
            log.append(record(thread * each + n))
            if n % 500 == 499:
                time.sleep(0.03)  # so that writes happen along the way
            if n == each // 2:
                # half way, until a write is made: the first waits for the flusher's
                # import of PyArrow, which can outlast every append on a busy machine
                deadline = time.monotonic() + 30
                while not log.written and time.monotonic() < deadline:
                    time.sleep(0.01)

    workers = [threading.Thread(target=append, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    log.close()
    assert (log.written, log.dropped) == (threads * each, 0)
    ids = predictions("churn", workspace=ws)["prediction_id"].to_list()
    assert sorted(ids) == [f"p{n:06d}" for n in range(threads * each)]
    assert len(segments(ws)) > 1  # written along the way, not only at close


def test_two_workers_on_one_workspace_write_their_own_segments(
    any_store_url: str, tmp_path: Path
) -> None:
    loopml.init(tmp_path, store_url=any_store_url).close()
    each = 3_000
    with loopml.workspace(tmp_path) as ws_a, loopml.workspace(tmp_path) as ws_b:
        logs = [
            PredictionLog(ws_a, worker="a", flush_seconds=0.02),
            PredictionLog(ws_b, worker="b", flush_seconds=0.02),
        ]

        def append(index: int) -> None:
            for n in range(each):
                logs[index].append(record(index * each + n))

        for log in logs:
            log.start()
        workers = [threading.Thread(target=append, args=(i,)) for i in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        for log in logs:
            log.close()
        found = segments(ws_a)
        assert {artifact.metadata["worker"] for artifact in found} == {"a", "b"}
        assert sorted(artifact.version for artifact in found) == list(range(1, len(found) + 1))
        assert sum(artifact.metadata["rows"] for artifact in found) == 2 * each
        ids = predictions("churn", workspace=ws_b)["prediction_id"].to_list()
        assert sorted(ids) == [f"p{n:06d}" for n in range(2 * each)]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp((T0 + seconds * 1_000_000) / 1e6, UTC)


def test_reading_by_time_range_opens_only_the_segments_that_overlap(
    ws: loopml.Workspace,
) -> None:
    log = PredictionLog(ws)
    for hour in range(3):  # three segments: seconds 0-2, 3600-3602, 7200-7202
        for n in range(3):
            seconds = hour * 3600 + n
            log.append(record(seconds, time_us=T0 + seconds * 1_000_000))
        log.flush()

    def ids(**bounds: Any) -> list[str]:
        return predictions("churn", workspace=ws, **bounds)["prediction_id"].to_list()

    assert ids(since=at(1), until=at(3601)) == ["p000001", "p000002", "p003600"]
    assert ids(since=at(7201)) == ["p007201", "p007202"]
    assert ids(until=at(1)) == ["p000000"]  # until is excluded
    assert ids(since=at(100), until=at(200)) == []
    # A naive datetime is UTC.
    assert ids(since=at(7202).replace(tzinfo=None)) == ["p007202"]
    # The last segment damaged: a range that does not reach it never opens it.
    last = max(segments(ws), key=lambda artifact: artifact.version)
    path = blob_file(ws, last.digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-20] + b"\0" * 20)
    assert ids(until=at(3603)) == ["p000000", "p000001", "p000002", "p003600", "p003601", "p003602"]
    with pytest.raises(DigestMismatch, match=f"predictions segment churn@v{last.version}"):
        ids(since=at(7000))


def test_a_damaged_segment_is_a_clear_error(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    log.flush()
    [segment] = segments(ws)
    path = blob_file(ws, segment.digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    for read in (
        lambda: predictions("churn", workspace=ws),
        lambda: find_prediction("p000001", ws),
    ):
        with pytest.raises(DigestMismatch) as raised:
            read()
        message = str(raised.value)
        assert "predictions segment churn@v1 is corrupt" in message
        assert segment.digest in message
        assert "loopml verify" in message
    [damage] = verify_workspace(ws).damage
    assert (damage.record, damage.problem) == ("predictions churn@v1", "corrupt")


def test_a_full_buffer_drops_and_counts(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws, max_buffered=10)
    for n in range(15):
        log.append(record(n))
    assert (log.buffered, log.dropped) == (10, 5)
    assert log.flush() == 10
    ids = predictions(workspace=ws)["prediction_id"].to_list()
    assert ids == [f"p{n:06d}" for n in range(10)]  # the first ten: the later ones dropped


def test_a_failed_write_keeps_its_records_for_the_next(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    # Where the artifact store writes its temporary files, a file: every put fails.
    tmp = Path(ws.artifacts.location) / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.write_text("in the way")
    with pytest.raises(NotWritable):
        log.flush()
    assert segments(ws) == []  # no index record without its blob
    log.append(record(2))
    assert log.buffered == 2
    tmp.unlink()
    log.close()
    assert predictions(workspace=ws)["prediction_id"].to_list() == ["p000001", "p000002"]
    # The failed segment was written again as it was, before the newer record's.
    assert [a.metadata["rows"] for a in sorted(segments(ws), key=lambda a: a.version)] == [1, 1]


def test_a_segment_indexed_twice_is_read_once(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    log.flush()
    [segment] = segments(ws)
    # What a write retried after its index record was made, unacknowledged, leaves.
    ws.store.create_artifact(
        kind="predictions",
        name="churn",
        digest=segment.digest,
        size=segment.size,
        metadata=segment.metadata,
    )
    assert len(segments(ws)) == 2
    assert predictions(workspace=ws)["prediction_id"].to_list() == ["p000001"]


def test_find_prediction_looks_from_since_on(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1, time_us=T0))
    log.append(record(2, time_us=T0 + 3_600_000_000))
    log.flush()
    assert find_prediction("p000001", ws) == record(1, time_us=T0)
    assert find_prediction("p000001", ws, since=at(60)) is None
    assert find_prediction("p000002", ws, since=at(60)) == record(2, time_us=T0 + 3_600_000_000)


def test_the_flusher_retries_a_failed_write(ws: loopml.Workspace) -> None:
    tmp = Path(ws.artifacts.location) / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.write_text("in the way")
    log = PredictionLog(ws, flush_seconds=0.02)
    log.start()
    log.append(record(1))
    deadline = time.monotonic() + 30
    while log.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(log.error, NotWritable)
    tmp.unlink()
    while log.written == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (log.written, log.error) == (1, None)
    log.close()


def test_appends_after_close_are_dropped_and_counted(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.start()
    log.append(record(1))
    log.close()
    log.append(record(2))
    assert (log.written, log.dropped) == (1, 1)
    log.close()  # again: nothing more to write
    assert predictions(workspace=ws).height == 1


def test_a_record_that_does_not_fit_is_left_out_alone(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    log.append(record(2, arm="first"))
    log.append(record(3))
    assert log.flush() == 2
    assert log.refused == 1
    assert predictions(workspace=ws)["prediction_id"].to_list() == ["p000001", "p000003"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"flush_seconds": 0}, "flush_seconds"),
        ({"flush_seconds": "1"}, "flush_seconds"),
        ({"max_buffered": 0}, "max_buffered"),
        ({"max_buffered": 1.5}, "max_buffered"),
    ],
)
def test_bad_settings_are_refused(ws: loopml.Workspace, options: Any, field: str) -> None:
    with pytest.raises(InvalidInput, match=field) as raised:
        PredictionLog(ws, **options)
    assert raised.value.field == field


def test_bad_time_ranges_are_refused(ws: loopml.Workspace) -> None:
    with pytest.raises(InvalidInput, match="swap them") as raised:
        predictions(since=at(10), until=at(5), workspace=ws)
    assert raised.value.field == "since"
    with pytest.raises(InvalidInput, match="must be a datetime") as raised:
        predictions(since="yesterday", workspace=ws)  # type: ignore[arg-type]
    assert raised.value.field == "since"


def test_feedback_is_written_and_joins_on_the_prediction_id(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    log.append(record(2, deployment="fraud", outputs={"predictions": [0, 1, 1]}))
    log.close()
    first = loopml.feedback("p000001", 1, workspace=ws)
    assert (first.reward, first.label, first.row, first.deployment) == (1.0, None, None, "churn")
    second = loopml.feedback("p000002", "fraud", row=2, workspace=ws)
    assert (second.reward, second.label, second.row) == (None, "fraud", 2)
    third = loopml.feedback("p000001", label=1, workspace=ws)
    assert (third.reward, third.label) == (None, 1)

    frame = feedback_records("churn", workspace=ws)
    assert frame["reward"].to_list() == [1.0, None]
    assert frame["label"].to_list() == [None, "1"]  # JSON text
    fraud = feedback_records("fraud", workspace=ws)
    assert fraud.select("prediction_id", "label", "row").rows() == [("p000002", '"fraud"', 2)]
    joined = predictions(workspace=ws).join(feedback_records(workspace=ws), on="prediction_id")
    assert sorted(joined["prediction_id"].to_list()) == ["p000001", "p000001", "p000002"]


def test_feedback_on_an_id_neither_logged_nor_ours_names_the_id_and_the_fix(
    ws: loopml.Workspace,
) -> None:
    with PredictionLog(ws) as log:
        log.append(record(1))
    with pytest.raises(InvalidInput) as raised:
        loopml.feedback("p424242", label=1, workspace=ws)
    assert "prediction 'p424242' is not in the prediction log" in str(raised.value)
    assert "prediction_id of the server's answer" in str(raised.value)
    assert raised.value.field == "prediction_id"
    assert segments(ws, "feedback") == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ws: loopml.feedback("p000001", workspace=ws), "reward_or_label"),
        (lambda ws: loopml.feedback("p000001", 1.0, label="x", workspace=ws), "reward_or_label"),
        (lambda ws: loopml.feedback("p000001", float("nan"), workspace=ws), "reward"),
        (lambda ws: loopml.feedback("p000001", 1.0, row=1, workspace=ws), "row"),
        (lambda ws: loopml.feedback("", 1.0, workspace=ws), "prediction_id"),
    ],
)
def test_bad_feedback_is_refused(ws: loopml.Workspace, call: Any, field: str) -> None:
    with PredictionLog(ws) as log:
        log.append(record(1))
    with pytest.raises(InvalidInput) as raised:
        call(ws)
    assert raised.value.field == field
    assert segments(ws, "feedback") == []


def test_a_feedback_log_buffers_like_the_prediction_log(ws: loopml.Workspace) -> None:
    with FeedbackLog(ws, worker="w", flush_seconds=0.05) as log:
        log.append(FeedbackRecord("p1", T0, 0.0, None, None, "churn"))
        log.append(FeedbackRecord("p2", T0 + 1, None, {"true": 1}, 0))  # deployment unknown
    assert log.written == 2
    assert sorted(artifact.name for artifact in segments(ws, "feedback")) == ["(unknown)", "churn"]
    frame = feedback_records(workspace=ws)
    assert frame.select("prediction_id", "reward", "label", "deployment").rows() == [
        ("p1", 0.0, None, "churn"),
        ("p2", None, '{"true":1}', None),
    ]


# The logs of a real process stopped by SIGTERM and killed by SIGKILL.

RATE = 1_000  # records a second, at most
FLUSH_S = 0.2
# What a flush may take on a busy machine, beyond the interval: generous (a loaded
# machine stretches the flush in progress), and still well below the three seconds of
# records a log that never wrote would lose.
MARGIN_S = 1.5
RUN_S = 3.0


def start_logger(root: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    logger = subprocess.Popen(
        [sys.executable, str(WORKER), str(root), str(RATE), str(FLUSH_S)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert logger.stdout is not None
    first = logger.stdout.readline()  # it appends: the log is started
    assert first.strip().isdigit(), logger.stderr.read() if logger.stderr else first
    time.sleep(RUN_S)
    assert logger.poll() is None
    return logger


def logged_ids(root: Path) -> list[int]:
    with loopml.workspace(root) as ws:
        ids = predictions("churn", workspace=ws)["prediction_id"].to_list()
    return sorted(int(each[1:]) for each in ids)


def test_after_sigterm_every_appended_record_is_in_the_log(
    any_store_url: str, tmp_path: Path
) -> None:
    loopml.init(tmp_path, store_url=any_store_url).close()
    logger = start_logger(tmp_path)
    logger.send_signal(signal.SIGTERM)
    out, err = logger.communicate(timeout=60)
    assert logger.returncode == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("closed "), out[-500:]
    appended, dropped = int(last.split()[1]), int(last.split()[3])
    assert dropped == 0
    assert appended > 0  # how many a loaded machine appends in the time is not the point
    assert logged_ids(tmp_path) == list(range(appended))


def test_after_sigkill_at_most_the_flush_window_is_lost(tmp_path: Path) -> None:
    loopml.init(tmp_path).close()
    logger = start_logger(tmp_path)
    logger.send_signal(signal.SIGKILL)
    out, _ = logger.communicate(timeout=60)
    assert logger.returncode == -signal.SIGKILL
    acknowledged = int(out.strip().splitlines()[-1])  # appended, at least
    # Killed wherever it was, maybe mid-write: every indexed segment is whole (reading
    # checks each against its digest, and so does loopml verify).
    ids = logged_ids(tmp_path)
    with loopml.workspace(tmp_path) as ws:
        checked = verify_workspace(ws)
        assert (checked.records, checked.damage) == (len(segments(ws)), [])
    assert ids == list(range(len(ids)))  # the oldest kept, none missing among them
    missing = acknowledged - len(ids)
    assert missing <= RATE * (FLUSH_S + MARGIN_S), (acknowledged, len(ids))


def test_json_columns_read_the_same_with_or_without_orjson() -> None:
    from loopml.serve._json import _stdlib_json, encode_json

    value = {"age": np.array([41, 42]), "score": np.float32(0.5), "plan": ["é"], "n": None}
    assert (
        encode_json(value)
        == _stdlib_json(value)
        == ('{"age":[41,42],"score":0.5,"plan":["é"],"n":null}')
    )
    # What JSON cannot hold is kept as its text, never an error that stops a write.
    assert encode_json({"when": datetime(2026, 1, 1, tzinfo=UTC).date()}) == (
        '{"when":"2026-01-01"}'
    )


def test_a_segment_of_the_first_format_reads_as_the_typed_ones(ws: loopml.Workspace) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    # what the log wrote before inputs and outputs were typed: both as JSON text
    first = pa.table(
        {
            "prediction_id": ["p000001"],
            "request_id": [None],
            "time_us": [T0],
            "deployment": ["churn"],
            "ref": ["churn@v3"],
            "arm": pa.array([0], pa.int32()),
            "probability": [0.5],
            "inputs": ['{"age":[41,42],"plan":["a","b"]}'],
            "outputs": ['{"predictions":[1,0]}'],
            "latency_us": [300],
            "key": [None],
            "fallback": [False],
            "shadow": [False],
            "error": pa.array([None], pa.string()),
        }
    ).replace_schema_metadata({"loopml.format": "loopml.predictions/1"})
    sink = io.BytesIO()
    pq.write_table(first, sink)
    blob = ws.artifacts.put_bytes(sink.getvalue())
    ws.store.create_artifact(
        kind="predictions",
        name="churn",
        digest=blob.digest,
        size=blob.size,
        metadata={"format": "parquet", "layout": "loopml.predictions/1", "rows": 1,
                  "first_us": T0, "last_us": T0},
    )  # fmt: skip
    log = PredictionLog(ws)
    log.append(record(5))
    log.flush()
    frame = predictions("churn", workspace=ws)
    assert frame["prediction_id"].to_list() == ["p000001", "p000005"]
    assert frame["inputs"][0] == {"age": [41, 42], "plan": ["a", "b"]}
    assert frame["outputs"].struct.field("predictions").to_list() == [[1, 0], [1]]
    found = find_prediction("p000001", ws)
    assert found is not None
    assert (found.inputs, found.outputs) == (
        {"age": [41, 42], "plan": ["a", "b"]},
        {"predictions": [1, 0]},
    )


def test_predictions_reads_only_the_columns_asked(ws: loopml.Workspace) -> None:
    log = PredictionLog(ws)
    log.append(record(1))
    log.flush()
    frame = predictions("churn", columns=["prediction_id", "outputs"], workspace=ws)
    assert sorted(frame.columns) == ["outputs", "prediction_id", "time_us"]  # time, to order by
    for wrong in (["input"], "outputs"):
        with pytest.raises(InvalidInput) as error:
            predictions("churn", columns=wrong, workspace=ws)
        assert error.value.field == "columns"


def test_a_table_that_cannot_be_made_is_counted_and_the_log_goes_on(
    ws: loopml.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.serve import _segments  # the log imports it when it first has records

    made = _segments.records_table

    def broken_for_fraud(records, layout):  # a bug that hits one deployment's records
        if records[0].deployment == "fraud":
            raise RuntimeError("a bug")
        return made(records, layout)

    monkeypatch.setattr(_segments, "records_table", broken_for_fraud)
    log = PredictionLog(ws, flush_seconds=0.05)
    log.start()
    log.append(record(1, deployment="fraud"))
    log.append(record(2))
    deadline = time.monotonic() + 10
    while log.written < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    log.append(record(3))
    log.close()
    assert (log.written, log.refused, log.buffered) == (2, 1, 0)
    assert predictions("churn", workspace=ws)["prediction_id"].to_list() == ["p000002", "p000003"]


@pytest.mark.parametrize("layout", [PREDICTIONS_LAYOUT, FEEDBACK_LAYOUT], ids=lambda x: x.kind)
def test_an_empty_log_reads_with_the_columns_a_segment_reads_with(layout: Any) -> None:
    """An empty read is typed without PyArrow: the same types as a segment's columns."""
    import pyarrow as pa

    from loopml.serve._segments import empty_frame

    written = pl.from_arrow(pa.Table.from_batches([], schema=layout.schema))
    assert isinstance(written, pl.DataFrame)
    empty = empty_frame(layout)
    assert empty.select(written.columns).schema == written.schema
    assert empty.columns == [*written.columns, *layout.nested]


def test_reading_the_logs_imports_no_pyarrow(tmp_path: Path) -> None:
    """PyArrow (about 0.07 s) is imported to write segments, not to read them."""
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws, PredictionLog(ws) as log:
        log.append(record(0))
    code = (
        "import sys, loopml; from loopml.monitor import labelled; "
        f"ws = loopml.workspace({str(tmp_path / 'ws')!r}); "
        "found = labelled('churn', workspace=ws); "
        "assert found.rows.height == 1, found.rows; "
        "assert 'pyarrow' not in sys.modules, 'pyarrow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
