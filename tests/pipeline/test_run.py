"""Running pipelines: records, caching, forcing, stale status, checks and failures.

Each test writes its pipeline as a real file and loads it, as `loopml run` does, so
that code fingerprints read real source.
"""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInput, NotFound, PipelineError, StepFailed
from loopml.pipeline import Pipeline, load_pipeline
from loopml.store import RunStatus

PIPELINE = """
import polars as pl
import loopml

FACTOR = 2

def double(frame):
    return frame.with_columns((pl.col("x") * FACTOR).alias("x2"))

@loopml.step
def load(n: int = 10) -> pl.DataFrame:
    print(f"loading {n} rows")
    return pl.DataFrame({"x": list(range(n))})

@loopml.step
def featurize(raw: pl.DataFrame) -> pl.DataFrame:
    return double(raw)

@loopml.step
def train(feats: pl.DataFrame, C: float = 1.0) -> dict:
    return {"rows": feats.height, "C": C, "total": int(feats["x2"].sum())}

@loopml.pipeline
def churn(n: int = 10, C: float = 1.0):
    return train(featurize(load(n)), C=C)
"""


@pytest.fixture
def ws(tmp_path: Path) -> loopml.Workspace:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Pipeline]:
    """Write pipeline source to a fresh file and load it (a new module each time)."""
    folder = tmp_path / "project"
    folder.mkdir()
    names: list[str] = []

    def make(source: str, name: str = "churn", file: str = "pipelines.py") -> Pipeline:
        path = folder / file
        path.write_text(textwrap.dedent(source))
        os.utime(path, ns=(path.stat().st_mtime_ns + 10_000_000,) * 2)  # a new mtime
        pipeline = load_pipeline(f"{path}:{name}")
        names.append(f"loopml_user_{path.stem}")
        return pipeline

    yield make
    for name in names:
        sys.modules.pop(name, None)
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def statuses(result: loopml.pipeline.PipelineResult) -> dict[str, str]:
    return {step.name: step.status for step in result.steps}


def test_every_step_is_a_recorded_run(ws: loopml.Workspace, write) -> None:
    result = write(PIPELINE).run(workspace=ws, echo=False)
    assert result.value == {"rows": 10, "C": 1.0, "total": 90}
    store = ws.store
    pipeline_run = store.get_run(result.run_id)
    assert (pipeline_run.kind, pipeline_run.status) == ("pipeline", RunStatus.SUCCEEDED)
    assert pipeline_run.params == {"n": 10, "C": 1.0}
    steps = store.find_runs(parent_id=result.run_id)
    assert [r.name for r in steps] == ["churn/load", "churn/featurize", "churn/train"]
    load, featurize, train = steps
    assert load.params == {"n": 10}
    assert train.params == {"C": 1.0}
    for run in steps:
        assert run.status == RunStatus.SUCCEEDED
        assert len(run.fingerprint or "") == 64
        assert len(run.code["fingerprint"]) == 64
        assert run.code["file"].endswith("pipelines.py")
        assert run.code["line"] > 0
        assert "git" in run.code
        assert (
            run.environment["python"]
            == f"{sys.version_info.major}.{sys.version_info.minor}"
            + (
                run.environment["python"][
                    len(f"{sys.version_info.major}.{sys.version_info.minor}") :
                ]
            )
        )
        assert run.environment["packages"]["polars"]
        assert run.ended_at is not None
        assert run.ended_at >= run.started_at
    # Lineage: featurize read load's output and wrote its own; each step has a log.
    events = store.events(run_id=featurize.id)
    roles = {(e.direction, e.role) for e in events}
    assert roles == {("input", "raw"), ("output", "output"), ("output", "log")}
    raw_input = next(e for e in events if e.role == "raw")
    load_output = next(e for e in store.events(run_id=load.id) if e.role == "output")
    assert raw_input.artifact_id == load_output.artifact_id
    log = next(e for e in store.events(run_id=load.id) if e.role == "log")
    assert ws.artifacts.read_bytes(store.get_artifact(log.artifact_id).digest) == (
        b"loading 10 rows\n"
    )


def test_the_log_holds_stdout_stderr_and_child_processes(ws: loopml.Workspace, write) -> None:
    source = """
    import os, sys
    import loopml

    @loopml.step
    def noisy() -> int:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        os.system("echo from a child process")
        return 1

    @loopml.pipeline
    def churn():
        return noisy()
    """
    result = write(source).run(workspace=ws, echo=False)
    run_id = result.step("noisy").run_id
    log = next(e for e in ws.store.events(run_id=run_id) if e.role == "log")
    text = ws.artifacts.read_bytes(ws.store.get_artifact(log.artifact_id).digest).decode()
    assert text.splitlines() == ["to stdout", "to stderr", "from a child process"]


def test_an_unchanged_rerun_is_all_cache_hits(ws: loopml.Workspace, write) -> None:
    pipeline = write(PIPELINE)
    first = pipeline.run(workspace=ws, echo=False)
    second = pipeline.run(workspace=ws, echo=False)
    assert set(statuses(second).values()) == {"cached"}
    for before, after in zip(first.steps, second.steps, strict=True):
        assert after.cached_from == before.run_id
        assert after.output == before.output
        run = ws.store.get_run(after.run_id)
        assert run.status == RunStatus.CACHED
        assert run.tags["cached_from"] == before.run_id
    assert second.value == first.value


def test_changing_a_parameter_reruns_only_what_it_reaches(ws: loopml.Workspace, write) -> None:
    pipeline = write(PIPELINE)
    pipeline.run(workspace=ws, echo=False)
    result = pipeline.run(workspace=ws, echo=False, C=0.5)
    assert statuses(result) == {"load": "cached", "featurize": "cached", "train": "ran"}
    assert result.value["C"] == 0.5


def test_changing_a_helper_reruns_its_step_and_downstream_not_upstream(
    ws: loopml.Workspace, write
) -> None:
    write(PIPELINE).run(workspace=ws, echo=False)
    changed = PIPELINE.replace("FACTOR = 2", "FACTOR = 3")
    result = write(changed).run(workspace=ws, echo=False)
    assert statuses(result) == {"load": "cached", "featurize": "ran", "train": "ran"}
    assert result.value["total"] == 135


def test_a_change_that_keeps_the_output_stops_at_the_step(ws: loopml.Workspace, write) -> None:
    # featurize's code changes but its output does not: train's input digest is the
    # same, so train is reused (early cutoff).
    write(PIPELINE).run(workspace=ws, echo=False)
    same_output = PIPELINE.replace("return double(raw)", "return double(raw.clone())")
    result = write(same_output).run(workspace=ws, echo=False)
    assert statuses(result) == {"load": "cached", "featurize": "ran", "train": "cached"}


def test_comments_and_formatting_do_not_invalidate(ws: loopml.Workspace, write) -> None:
    write(PIPELINE).run(workspace=ws, echo=False)
    reformatted = PIPELINE.replace(
        "    return double(raw)", "    # now with a comment\n    return double( raw )"
    )
    result = write(reformatted).run(workspace=ws, echo=False)
    assert set(statuses(result).values()) == {"cached"}


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_cached_output_is_recomputed(ws: loopml.Workspace, write, damage: str) -> None:
    pipeline = write(PIPELINE)
    first = pipeline.run(workspace=ws, echo=False)
    blob = ws.artifacts.local_path(first.step("featurize").output.digest)
    blob.chmod(0o644)
    if damage == "missing":
        blob.unlink()
    else:
        blob.write_bytes(b"not what was stored")
    second = pipeline.run(workspace=ws, echo=False)
    assert statuses(second) == {"load": "cached", "featurize": "ran", "train": "cached"}
    run = ws.store.get_run(second.step("featurize").run_id)
    assert "cannot be used" in run.tags["cache_rejected"]
    assert ws.artifacts.verify(second.step("featurize").output.digest)  # restored
    assert second.value == first.value


def test_force_reruns_one_step_and_after_or_all(ws: loopml.Workspace, write) -> None:
    pipeline = write(PIPELINE)
    pipeline.run(workspace=ws, echo=False)
    one = pipeline.run(workspace=ws, echo=False, force=["featurize"])
    assert statuses(one) == {"load": "cached", "featurize": "ran", "train": "ran"}
    every = pipeline.run(workspace=ws, echo=False, force=True)
    assert set(statuses(every).values()) == {"ran"}
    with pytest.raises(InvalidInput, match="no step 'nope'"):
        pipeline.run(workspace=ws, echo=False, force=["nope"])


def test_a_step_a_result_lacks_is_not_found_and_named(ws: loopml.Workspace, write) -> None:
    pipeline = write(PIPELINE)
    partial = pipeline.run(workspace=ws, echo=False, until="featurize")
    assert partial.output("featurize").height == 10
    for ask in (partial.step, partial.output):
        with pytest.raises(NotFound, match=r"step 'train' of pipeline 'churn' did not run") as got:
            ask("train")
        assert "--until" in str(got.value)
        assert "the steps that ran: load, featurize" in str(got.value)
        with pytest.raises(NotFound, match="has no step 'trian'; its steps are load, featurize"):
            ask("trian")
    with pytest.raises(InvalidInput, match="no step 'nope'") as bad:
        pipeline.run(workspace=ws, echo=False, until="nope")
    assert bad.value.field == "until"
    with pytest.raises(InvalidInput) as bad:
        pipeline.run(workspace=ws, echo=False, force=["nope"])
    assert bad.value.field == "force"
    with pytest.raises(InvalidInput) as bad:
        pipeline.run(workspace=ws, echo=False, Cx=1)
    assert bad.value.to_dict()["field"] == "Cx"


def test_status_says_what_is_stale_and_why(ws: loopml.Workspace, write) -> None:
    pipeline = write(PIPELINE)
    never = pipeline.status(workspace=ws)
    assert (never[0].name, never[0].fresh, never[0].reasons) == ("load", False, ["never run"])
    pipeline.run(workspace=ws, echo=False)
    assert all(s.fresh for s in pipeline.status(workspace=ws))
    assert len(ws.store.find_runs(kind="pipeline")) == 1

    by_param = {s.name: s for s in pipeline.status(workspace=ws, C=0.5)}
    assert by_param["load"].fresh
    assert by_param["featurize"].fresh
    assert by_param["train"].reasons == ["parameter C changed: 1.0 -> 0.5"]

    changed = write(PIPELINE.replace("FACTOR = 2", "FACTOR = 4"))
    by_code = {s.name: s for s in changed.status(workspace=ws)}
    assert by_code["load"].fresh
    assert by_code["featurize"].reasons[0].startswith("code changed")
    assert "after stale featurize" in by_code["train"].reasons[0]
    assert len(ws.store.find_runs(kind="pipeline")) == 1  # status ran nothing


def test_status_names_a_changed_dataset(ws: loopml.Workspace, write, tmp_path: Path) -> None:
    import polars as pl

    loopml.data.add(pl.DataFrame({"x": [1, 2, 3]}), name="points", workspace=ws)
    source = """
    import polars as pl
    import loopml

    @loopml.step
    def total(points: pl.DataFrame) -> int:
        return int(points["x"].sum())

    @loopml.pipeline
    def churn(data: str = "points@latest"):
        return total(loopml.data.get(data))
    """
    pipeline = write(source)
    assert pipeline.run(workspace=ws, echo=False).value == 6
    loopml.data.add(pl.DataFrame({"x": [1, 2, 3, 4]}), name="points", workspace=ws)
    (status,) = pipeline.status(workspace=ws)
    assert not status.fresh
    assert status.reasons == ["input points changed (dataset: points@v1 -> points@v2)"]
    assert pipeline.run(workspace=ws, echo=False).value == 10


def test_cached_outputs_are_not_loaded(ws: loopml.Workspace, write, monkeypatch) -> None:
    pipeline = write(PIPELINE)
    pipeline.run(workspace=ws, echo=False)
    from loopml import _serialize as serialize

    loads: list[str] = []
    real = serialize.load
    monkeypatch.setattr(serialize, "load", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    result = pipeline.run(workspace=ws, echo=False, C=2.0)
    assert statuses(result)["train"] == "ran"
    assert len(loads) == 1  # only train's input, featurize's output, was read


def test_a_step_that_raises(ws: loopml.Workspace, write) -> None:
    source = PIPELINE.replace(
        'return {"rows"', 'raise ValueError("C must be positive")\n    return {"rows"'
    )
    pipeline = write(source)
    with pytest.raises(StepFailed) as raised:
        pipeline.run(workspace=ws, echo=False)
    failure = raised.value
    assert failure.step == "train"
    assert "ValueError: C must be positive" in str(failure)
    assert "pipelines.py" in str(failure)
    run = ws.store.get_run(failure.run_id)
    assert run.status == RunStatus.FAILED
    assert 'raise ValueError("C must be positive")' in run.error
    assert "pipelines.py" in run.error
    assert "loopml/pipeline" not in run.error  # the user's frames only
    assert failure.traceback == run.error
    parent = ws.store.get_run(run.parent_id)
    assert parent.status == RunStatus.FAILED
    # The steps before it are kept, and a fixed rerun starts from them.
    done = [r for r in ws.store.find_runs(parent_id=parent.id) if r.status == "succeeded"]
    assert [r.name for r in done] == ["churn/load", "churn/featurize"]
    fixed = write(PIPELINE).run(workspace=ws, echo=False)
    assert statuses(fixed) == {"load": "cached", "featurize": "cached", "train": "ran"}


def test_a_step_returning_something_unstorable(ws: loopml.Workspace, write) -> None:
    source = """
    import loopml

    @loopml.step
    def numbers():
        return (i for i in range(3))

    @loopml.pipeline
    def churn():
        return numbers()
    """
    with pytest.raises(StepFailed, match="generator") as raised:
        write(source).run(workspace=ws, echo=False)
    assert ws.store.get_run(raised.value.run_id).status == RunStatus.FAILED


def test_the_graph_is_checked_before_anything_runs(ws: loopml.Workspace, write) -> None:
    missing = """
    import loopml

    @loopml.step
    def add(a: int, b: int) -> int:
        return a + b

    @loopml.pipeline
    def churn():
        return add(1)
    """
    with pytest.raises(PipelineError, match=r"pipelines\.py:10: step add\(\): missing"):
        write(missing).run(workspace=ws, echo=False)
    unstorable = """
    from collections.abc import Iterator
    import loopml

    @loopml.step
    def stream() -> Iterator[int]:
        yield 1

    @loopml.pipeline
    def churn():
        return stream()
    """
    with pytest.raises(PipelineError, match=r"pipelines\.py:5: step stream returns"):
        write(unstorable).run(workspace=ws, echo=False)
    misuse = """
    import loopml

    @loopml.step
    def one() -> int:
        return 1

    @loopml.pipeline
    def churn():
        x = one()
        if x:
            return one()
    """
    with pytest.raises(PipelineError, match="placeholder"):
        write(misuse).run(workspace=ws, echo=False)
    assert ws.store.find_runs() == []  # nothing ran, nothing was recorded


def test_unknown_parameters_and_files_that_do_not_import(ws, write, tmp_path: Path) -> None:
    pipeline = write(PIPELINE)
    with pytest.raises(InvalidInput, match="no parameter 'Cx'; its parameters are: n, C"):
        pipeline.run(workspace=ws, echo=False, Cx=1)
    broken = tmp_path / "broken.py"
    broken.write_text("import loopml\n\ndef oops(:\n    pass\n")
    with pytest.raises(PipelineError, match=r"broken\.py:3: the pipeline file does not import"):
        load_pipeline(f"{broken}:p")
    failing = tmp_path / f"failing_{uuid.uuid4().hex}.py"
    failing.write_text("import loopml\nimport no_such_module_here\n")
    with pytest.raises(PipelineError, match=r":2: the pipeline file .* ModuleNotFoundError"):
        load_pipeline(f"{failing}:p")
    # The error is raised inside the standard library; the user's line is the one named.
    environ = tmp_path / f"environ_{uuid.uuid4().hex}.py"
    environ.write_text("import os\n\nHOME = os.environ['LOOPML_NO_SUCH_VARIABLE']\n")
    with pytest.raises(PipelineError, match=rf"{environ.name}:3: .* KeyError"):
        load_pipeline(f"{environ}:p")
    with pytest.raises(
        InvalidInput, match="has no pipeline named 'nope'; its pipelines are: churn"
    ):
        load_pipeline(f"{pipeline.file}:nope")


def test_an_edit_python_would_serve_from_its_cache_runs_as_written(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """Python trusts a compiled file whose source has the same size and mtime second;
    the pipeline file is compiled from its bytes instead, so the edit counts."""
    import py_compile

    folder = tmp_path / "cached"
    folder.mkdir()
    path = folder / "stale.py"
    second = 1_700_000_000
    path.write_text(textwrap.dedent(PIPELINE))
    os.utime(path, ns=(second * 10**9,) * 2)
    py_compile.compile(str(path))  # __pycache__ now holds FACTOR = 2
    path.write_text(textwrap.dedent(PIPELINE.replace("FACTOR = 2", "FACTOR = 3")))
    os.utime(path, ns=(second * 10**9 + 500_000_000,) * 2)  # the same second, same size
    try:
        result = load_pipeline(f"{path}:churn").run(workspace=ws, echo=False)
    finally:
        sys.modules.pop("loopml_user_stale", None)
        sys.path[:] = [p for p in sys.path if p != str(folder)]
    assert result.value["total"] == 135
