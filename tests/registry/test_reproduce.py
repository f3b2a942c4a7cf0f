"""``reproduce``: a registered model rebuilt from its lineage, with known answers.

A deterministic scikit-learn pipeline rebuilds to identical predictions (and the same
bytes) from the recorded data version even after ``@latest`` moved on; given the newer
version in its place, the difference is found and traced to the step that read it. A
step reading a file loopml does not track is named as where the outputs part ways;
data whose bytes are gone stops the rebuild; a git commit is checked out clean, and a
dirty tree at the time is reported.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

import loopml
from loopml import registry
from loopml.errors import InvalidInput
from loopml.pipeline import load_pipeline
from loopml.registry._compare import package_changes
from loopml.registry._reproduce import reproduce

FLOW = """
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml

ALPHA_SCALE = 1.0


@loopml.step
def split(table: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return table.assign(fold=np.where(rng.random(len(table)) < 0.3, "test", "train"))


@loopml.step
def train(rows: pd.DataFrame, alpha: float = 1.0) -> Pipeline:
    fit = rows[rows.fold == "train"]
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha * ALPHA_SCALE))
    return model.fit(fit.drop(columns=["target", "fold"]), fit["target"])


@loopml.pipeline
def flow(data: str = "sugar@latest", alpha: float = 1.0):
    return train(split(loopml.data.get(data)), alpha=alpha)
"""


@pytest.fixture
def diabetes() -> pd.DataFrame:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X.assign(target=y)


def _project(tmp_path: Path, source: str = FLOW) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "flow.py").write_text(textwrap.dedent(source))
    return project


def _train_and_register(ws: loopml.Workspace, project: Path, **params: object) -> str:
    """Run the pipeline, evaluate its model on the held-out rows, register it."""
    result = load_pipeline(f"{project / 'flow.py'}:flow").run(workspace=ws, echo=False, **params)
    rows = result.output("split")
    held = rows[rows.fold == "test"].drop(columns="fold")
    trained = result.step("train").output
    with loopml.start_run("release", workspace=ws):
        evaluation = loopml.evaluate(trained, held, label="target", name="sugar", workspace=ws)
        return registry.register(trained, "sugar", evaluation=evaluation, workspace=ws).ref


def test_a_deterministic_pipeline_reproduces_and_a_changed_data_version_is_found(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    loopml.data.add(diabetes.iloc[:300], name="sugar", workspace=ws)
    ref = _train_and_register(ws, _project(tmp_path))
    loopml.data.add(diabetes, name="sugar", workspace=ws)  # @latest moves on to v2

    same = reproduce(ref, workspace=ws)
    assert same.outcome == "identical", same.render()
    assert same.data == {"sugar": "sugar@v1"}  # pinned: not what @latest means now
    assert same.predictions is not None
    assert same.predictions.rows > 50
    assert same.predictions.identical
    assert same.same_digest
    assert [s.step for s in same.steps] == ["split", "train"]
    assert all(s.same_output and s.same_code and s.same_inputs for s in same.steps)
    rebuilt = ws.store.get_run(same.run_id)
    assert rebuilt.tags["reproduces"] == "sugar@v1"
    step_runs = ws.store.find_runs(parent_id=same.run_id, kind="step")
    assert {run.status.value for run in step_runs} == {"succeeded"}  # ran, not cached
    assert ws.latest("reproduction", "sugar").metadata["outcome"] == "identical"

    moved = reproduce(ref, data={"sugar": "sugar@v2"}, workspace=ws)
    assert moved.outcome == "different"
    assert moved.predictions is not None
    assert moved.predictions.differing > 0
    assert not moved.same_digest
    assert "data: sugar@v1 -> sugar@v2, as given" in moved.differences
    assert "the outputs first differ at step split: its inputs differ" in moved.differences
    assert "step split: OUTPUT DIFFERS, inputs changed" in moved.render()


def test_a_step_reading_a_file_loopml_does_not_track_is_named(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    project = _project(tmp_path, FLOW.replace("ALPHA_SCALE = 1.0", "ALPHA_SCALE = 1.0\nNOTE = 'x'"))
    source = (project / "flow.py").read_text()
    reading = source.replace(
        '    fit = rows[rows.fold == "train"]\n',
        '    fit = rows[rows.fold == "train"]\n'
        "    alpha = alpha * float(open(__file__.replace('flow.py', 'scale.txt')).read())\n",
    )
    (project / "flow.py").write_text(reading)
    (project / "scale.txt").write_text("1.0")
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    ref = _train_and_register(ws, project)
    (project / "scale.txt").write_text("50.0")

    found = reproduce(ref, workspace=ws)
    assert found.outcome == "different"
    assert [s.same_output for s in found.steps] == [True, False]
    assert any(
        line.startswith("the outputs first differ at step train: with the same code")
        and "reads something loopml does not track" in line
        for line in found.differences
    )


def test_data_whose_bytes_are_gone_is_reported_not_rebuilt(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    version = loopml.data.add(diabetes, name="sugar", workspace=ws)
    ref = _train_and_register(ws, _project(tmp_path))
    runs_before = len(ws.store.find_runs(kind="pipeline"))
    blob = ws.artifacts.local_path(version.artifact.digest)
    assert blob is not None
    blob.unlink()

    found = reproduce(ref, workspace=ws)
    assert found.outcome == "not reproduced"
    assert found.differences[0].startswith("missing data: the bytes of sugar@v1")
    assert len(ws.store.find_runs(kind="pipeline")) == runs_before  # nothing was re-run


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def _committed(project: Path) -> Path:
    """``project`` as a git repository with its pipeline file committed."""
    _git(project, "init", "-q")
    _git(project, "add", "flow.py")
    _git(project, "commit", "-q", "-m", "flow")
    return project


def test_the_recorded_commit_is_checked_out_clean(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    project = _committed(_project(tmp_path))
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    ref = _train_and_register(ws, project)
    # Edited since, not even committed: the file as it is now would train another model.
    flow = project / "flow.py"
    flow.write_text(flow.read_text().replace("ALPHA_SCALE = 1.0", "ALPHA_SCALE = 30.0"))

    found = reproduce(ref, workspace=ws)
    assert found.outcome == "identical", found.render()
    assert found.source.startswith("commit ")
    assert found.source.endswith("checked out clean")
    assert not any(line.startswith("code:") for line in found.differences)


def test_a_dirty_tree_at_the_time_is_reported(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    project = _committed(_project(tmp_path))
    flow = project / "flow.py"
    flow.write_text(flow.read_text() + "\n# not committed\n")
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    ref = _train_and_register(ws, project)

    found = reproduce(ref, workspace=ws)
    assert found.outcome == "identical"
    assert found.source == "the pipeline file as it is now"
    assert any("uncommitted changes" in line for line in found.differences)


WITH_HELPER = FLOW.replace("ALPHA_SCALE = 1.0", "from {module} import ALPHA_SCALE")


def test_a_module_never_committed_is_reported_as_uncommitted_code(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    module = f"settings_{uuid.uuid4().hex[:8]}"
    project = _committed(_project(tmp_path, WITH_HELPER.format(module=module)))
    (project / f"{module}.py").write_text("ALPHA_SCALE = 1.0\n")  # never added to git
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    with _on_path(project, module):
        ref = _train_and_register(ws, project)
        found = reproduce(ref, workspace=ws)
    assert found.source == "the pipeline file as it is now", found.render()
    assert any(
        "uncommitted changes" in line and f"{module}.py" in line for line in found.differences
    ), found.differences


def test_code_from_beside_the_repository_is_not_called_clean(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    module = f"shared_{uuid.uuid4().hex[:8]}"
    project = _committed(_project(tmp_path, WITH_HELPER.format(module=module)))
    beside = tmp_path / "shared"
    beside.mkdir()
    (beside / f"{module}.py").write_text("ALPHA_SCALE = 1.0\n")
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    with _on_path(beside, module):
        ref = _train_and_register(ws, project)
        found = reproduce(ref, workspace=ws)
    assert found.source.startswith("commit ")
    assert not found.source.endswith("checked out clean"), found.source
    beside_file = str((beside / f"{module}.py").resolve())
    assert any("outside the repository" in d and beside_file in d for d in found.differences)
    assert any("outside the checked-out commit" in d for d in found.differences), found.render()


@contextlib.contextmanager
def _on_path(folder: Path, module: str) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(module, None)


def test_models_not_made_by_a_pipeline_step_are_refused(
    ws: loopml.Workspace, diabetes: pd.DataFrame
) -> None:
    from sklearn.linear_model import Ridge

    model = Ridge().fit(diabetes.drop(columns="target"), diabetes["target"])
    with loopml.start_run("notebook", workspace=ws):
        registry.register(model, "loose", workspace=ws)
    with pytest.raises(InvalidInput, match=r"not by a pipeline step; reproduce re-runs"):
        reproduce("loose@v1", workspace=ws)
    registry.register(
        Ridge(alpha=2.0).fit(diabetes.iloc[:, :3], diabetes["target"]), "loose", workspace=ws
    )
    with pytest.raises(InvalidInput, match=r"saved outside any run"):
        reproduce("loose@v2", workspace=ws)


def test_other_data_must_be_a_version_of_what_the_lineage_read(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    loopml.data.add(diabetes.iloc[:10], name="salt", workspace=ws)
    ref = _train_and_register(ws, _project(tmp_path))
    with pytest.raises(InvalidInput, match=r"read sugar@v1, not 'salt'"):
        reproduce(ref, data={"salt": "salt@v1"}, workspace=ws)
    with pytest.raises(InvalidInput, match=r"salt@v1 is a version of 'salt'"):
        reproduce(ref, data={"sugar": "salt@v1"}, workspace=ws)


def test_package_changes_name_each_version() -> None:
    before = {"scikit-learn": "1.5.0", "numpy": "2.0.0", "old": "1.0"}
    after = {"scikit-learn": "1.6.1", "numpy": "2.0.0", "new": "0.3"}
    assert package_changes(before, after) == [
        "new 0.3 added",
        "old 1.0 removed",
        "scikit-learn 1.5.0 -> 1.6.1",
    ]


def test_the_cli_exits_0_when_identical_and_1_when_not(
    cli, ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    loopml.data.add(diabetes.iloc[:300], name="sugar", workspace=ws)
    ref = _train_and_register(ws, _project(tmp_path))
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    cli.cwd = ws.root

    same = cli("models", "reproduce", ref)
    assert same.code == 0, same
    assert same.out.startswith("reproduce sugar@v1: IDENTICAL")
    assert "predictions on the evaluation rows: identical on all" in same.out
    moved = cli("models", "reproduce", ref, "--data", "sugar@v2", "--json")
    assert moved.code == 1
    report = json.loads(moved.out)
    assert report["outcome"] == "different"
    assert "data: sugar@v1 -> sugar@v2, as given" in report["differences"]
    for bad, named in ((["sugar@v7"], "sugar@v7"), ([ref, "--data", "salt@v1"], "salt")):
        refused = cli("models", "reproduce", *bad)
        assert refused.code == 2, refused
        assert named in refused.err
        assert "Traceback" not in refused.err


def test_show_has_the_evaluation_and_the_gate(
    cli, ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    loopml.data.add(diabetes, name="sugar", workspace=ws)
    result = load_pipeline(f"{_project(tmp_path) / 'flow.py'}:flow").run(workspace=ws, echo=False)
    rows = result.output("split")
    held = rows[rows.fold == "test"].drop(columns="fold")
    trained = result.step("train").output
    with loopml.start_run("release", workspace=ws):
        evaluation = loopml.evaluate(trained, held, label="target", workspace=ws)
        decision = loopml.gate(evaluation, {"max_latency_p99_ms": 1000}, workspace=ws)
        features = held.drop(columns="target")
        registry.register(trained, "sugar", evaluation=evaluation, onnx=features, workspace=ws)
    cli.cwd = ws.root

    shown = json.loads(cli("models", "show", "sugar@v1", "--json", check=True).out)
    assert shown["gate"]["passed"] is True
    assert shown["gate"]["id"] == decision.artifact_id
    assert [c["name"] for c in shown["gate"]["checks"]] == [c.name for c in decision.checks]
    assert shown["evaluation"]["metrics"] == evaluation.metrics
    assert shown["evaluation"]["baseline"] == evaluation.baseline
    assert len(shown["evaluation"]["slices"]) == len(evaluation.slices)
    text = cli("models", "show", "sugar@v1", check=True).out
    assert "gate        PASSED on rmse" in text
    assert "ok   latency: p99 per row" in text
    assert f"evaluation on {len(held)} rows (regression)" in text
    assert "worst slices" in text
    assert f"served      {shown['served']}: native" in text
    assert "onnx copy" in text


TWO_VERSIONS = """
import pandas as pd
from sklearn.linear_model import Ridge

import loopml


@loopml.step
def train(first: pd.DataFrame, second: pd.DataFrame) -> Ridge:
    rows = pd.concat([first, second])
    return Ridge().fit(rows.drop(columns="target"), rows["target"])


@loopml.pipeline
def flow(reference: str = "sugar@v1", current: str = "sugar@latest"):
    return train(loopml.data.get(reference), loopml.data.get(current))
"""


def test_a_dataset_read_in_two_versions_is_not_pinned_by_its_name(
    ws: loopml.Workspace, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    loopml.data.add(diabetes.iloc[:200], name="sugar", workspace=ws)
    loopml.data.add(diabetes.iloc[:300], name="sugar", workspace=ws)
    project = _project(tmp_path, TWO_VERSIONS)
    result = load_pipeline(f"{project / 'flow.py'}:flow").run(workspace=ws, echo=False)
    ref = registry.register(result.step("train").output, "sugar", workspace=ws).ref
    rows = diabetes.iloc[400:]

    same = reproduce(ref, on=rows, workspace=ws)
    assert same.outcome == "identical", same.render()  # v1 and v2 each read as asked
    assert same.data == {}
    note = "data: sugar was read in 2 versions (sugar@v1, sugar@v2), so it is not pinned"
    assert any(line.startswith(note) for line in same.differences)
    loopml.data.add(diabetes, name="sugar", workspace=ws)  # @latest is v3 now
    moved = reproduce(ref, on=rows, workspace=ws)
    assert moved.outcome == "different"  # said, not hidden: @latest was not pinned
