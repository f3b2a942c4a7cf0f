"""The Airflow export: the DAG file it writes, and that file run by a real Airflow.

The first part reads the generated file (it compiles; its tasks, commands and
dependencies match the pipeline's graph) and always runs. The second, marked
``airflow``, installs Airflow into ``.venv-airflow`` at the project root (once; it
is reused while it holds the pinned version), runs the exported DAG twice with
``airflow dags test`` against an SQLite database of its own, and reads loopml's store
to see that the first run ran every step once and the second was all cache hits.
``airflow dags test`` runs the tasks in its own process and serves their execution
API in-process too (through Starlette's test client): no webserver, scheduler or API
server is started, so nothing listens on the network.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import loopml
from loopml.cli.pipeline import _params
from loopml.errors import InvalidInput
from loopml.pipeline import Pipeline, load_pipeline
from loopml.pipeline._airflow import export_airflow, param_text
from loopml.store import RunStatus

PIPELINE = """
import loopml

@loopml.step
def source(n: int) -> list:
    return list(range(n))

@loopml.step
def left(values: list) -> int:
    return sum(values)

@loopml.step
def right(values: list, scale: float, fail: bool) -> float:
    if fail:
        raise ValueError("right was told to fail")
    return max(values) * scale

@loopml.step
def join(a: int, b: float, label: str) -> dict:
    return {"a": a, "b": b, "label": label}

@loopml.pipeline
def diamond(n: int = 4, scale: float = 2.0, label: str = "x", fail: bool = False, extra=None):
    values = source(n)
    return join(left(values), right(values, scale, fail), label)
"""

TWICE = """
import loopml

@loopml.step
def double(x: int) -> int:
    return 2 * x

@loopml.step(name="class")
def keyword_named(x: int) -> int:
    return x

@loopml.pipeline
def twice(n: int = 3):
    return keyword_named(double(double(n)))
"""


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Callable[[str, str], Pipeline]]:
    """Write pipeline source into ``tmp_path/project`` and load it, as `loopml` does."""
    folder = tmp_path / "project"
    folder.mkdir()
    names: list[str] = []

    def make(source: str, name: str) -> Pipeline:
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        names.append(f"loopml_user_{path.stem}")
        return load_pipeline(f"{path}:{name}")

    yield make
    for name in names:
        sys.modules.pop(name, None)
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def read_dag(text: str) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str]]]:
    """The tasks (task_id -> keyword arguments) and dependencies of a generated DAG file."""
    tree = ast.parse(text)
    tasks: dict[str, dict[str, Any]] = {}  # by variable
    edges: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "BashOperator"
        ):
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            tasks[target.id] = {
                k.arg: ast.literal_eval(k.value) if k.arg != "env" else ast.unparse(k.value)
                for k in node.value.keywords
            }
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            before = node.left.elts if isinstance(node.left, ast.List) else [node.left]
            assert isinstance(node.right, ast.Name)
            edges.update((ast.unparse(b), node.right.id) for b in before)
    ids = {variable: task["task_id"] for variable, task in tasks.items()}
    return (
        {task["task_id"]: task for task in tasks.values()},
        {(ids[a], ids[b]) for a, b in edges},
    )


def graph_edges(pipeline: Pipeline, **params: Any) -> set[tuple[str, str]]:
    graph = pipeline.graph(**params)
    return {(up.name, node.name) for node in graph.nodes for up in node.upstream()}


def test_one_task_per_step_with_the_graph_s_dependencies(load, tmp_path: Path) -> None:
    pipeline = load(PIPELINE, "diamond")
    text = export_airflow(
        pipeline,
        {"n": 5, "label": "a b"},
        workspace_root=tmp_path,
        loopml_command="/opt/venv/bin/loopml",
        dag_id=None,
        schedule=None,
    )
    compile(text, "loopml_diamond.py", "exec")
    tasks, edges = read_dag(text)
    assert list(tasks) == ["source", "left", "right", "join"]
    diamond = {("source", "left"), ("source", "right"), ("left", "join"), ("right", "join")}
    assert edges == graph_edges(pipeline, n=5) == diamond
    file = tmp_path / "project" / "diamond.py"
    for name, task in tasks.items():
        assert shlex.split(task["bash_command"]) == [
            "cd",
            str(tmp_path),
            "&&",
            "/opt/venv/bin/loopml",
            "run",
            f"{file}:diamond",
            "--until",
            name,
            "--param",
            "n=5",
            "--param",
            "label=a b",
        ]
        assert "env" not in task  # no LOOPML_* set: the workspace is found from the folder
    assert 'dag_id="loopml_diamond",' in text
    assert "schedule=None," in text
    assert "catchup=False," in text
    assert "start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)," in text
    assert "    [left, right] >> join\n" in text
    header = text.split("\n\n")[0]
    assert "loopml export airflow" in header
    assert "cache hit" in header
    assert f"from {file}:diamond with --param n=5 --param 'label=a b'." in header
    assert "from airflow.providers.standard.operators.bash import BashOperator" in text
    assert "from airflow.operators.bash import BashOperator" in text  # Airflow 2


def test_task_ids_and_variables_stay_unique_and_valid(load, tmp_path: Path) -> None:
    pipeline = load(TWICE, "twice")
    text = export_airflow(
        pipeline, {}, workspace_root=tmp_path, loopml_command="loopml", dag_id="t", schedule=None
    )
    compile(text, "t.py", "exec")
    tasks, edges = read_dag(text)
    assert list(tasks) == ["double", "double-2", "class"]
    assert edges == graph_edges(pipeline) == {("double", "double-2"), ("double-2", "class")}
    assert "    step_class = BashOperator(" in text
    assert "    double_2 = BashOperator(" in text
    assert shlex.split(tasks["double-2"]["bash_command"])[-2:] == ["--until", "double-2"]


def test_store_and_artifact_urls_set_now_are_passed_on(
    load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = load(PIPELINE, "diamond")
    monkeypatch.setenv("LOOPML_STORE_URL", "postgresql://db.internal/loopml")
    monkeypatch.setenv("LOOPML_ARTIFACTS_URL", "s3://bucket/artifacts")
    text = export_airflow(
        pipeline, {}, workspace_root=tmp_path, loopml_command="loopml", dag_id=None, schedule=None
    )
    compile(text, "loopml_diamond.py", "exec")
    assert (
        "ENV = {\n"
        '    "LOOPML_STORE_URL": "postgresql://db.internal/loopml",\n'
        '    "LOOPML_ARTIFACTS_URL": "s3://bucket/artifacts",\n'
        "}\n"
    ) in text
    tasks, _ = read_dag(text)
    assert all(task["env"] == "ENV" and task["append_env"] is True for task in tasks.values())
    monkeypatch.delenv("LOOPML_ARTIFACTS_URL")
    text = export_airflow(
        pipeline, {}, workspace_root=tmp_path, loopml_command="loopml", dag_id=None, schedule=None
    )
    assert "LOOPML_ARTIFACTS_URL" not in text
    assert '"LOOPML_STORE_URL": "postgresql://db.internal/loopml",' in text


@pytest.mark.parametrize(
    "given",
    [
        ["n=7", "scale=0.25", "fail=true", "label=plain"],
        ["label=3", "extra=3"],  # "3" as text for a str parameter, 3 as JSON otherwise
        ['label=it\'s "quoted" $HOME `x`; a & b', "extra=not json"],
        ['extra={"a": [1, 2.5, null], "b": "c"}', "scale=1e-3"],
        ['extra="7"'],  # a JSON string: text that would otherwise read as a number
        ["fail=false", "extra=[true, false]"],
    ],
)
def test_parameters_reach_the_task_as_they_were_given(
    load, tmp_path: Path, given: list[str]
) -> None:
    pipeline = load(PIPELINE, "diamond")
    params = _params(pipeline, given)
    texts = [param_text(pipeline, name, value) for name, value in params.items()]
    assert _params(pipeline, texts) == params
    # and through a real shell: each argument arrives as one, unchanged
    text = export_airflow(
        pipeline,
        params,
        workspace_root=tmp_path,
        loopml_command="printf '%s\\n'",
        dag_id=None,
        schedule=None,
    )
    tasks, _ = read_dag(text)
    done = subprocess.run(
        ["bash", "-c", tasks["join"]["bash_command"]],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    arguments = done.stdout.splitlines()
    assert arguments[:3] == ["run", f"{pipeline.file}:diamond", "--until"]
    assert _params(pipeline, arguments[5::2]) == params


def test_commands_are_kept_from_airflow_templating(load, tmp_path: Path) -> None:
    pipeline = load(PIPELINE, "diamond")
    for label in ("{{ ds }}", "{% if %}", "run.sh"):
        text = export_airflow(
            pipeline,
            {"label": label},
            workspace_root=tmp_path,
            loopml_command="loopml",
            dag_id=None,
            schedule=None,
        )
        tasks, _ = read_dag(text)
        command = tasks["source"]["bash_command"]
        assert command.startswith("{% raw %}cd ")
        assert command.endswith(shlex.quote(f"label={label}") + "{% endraw %}")
    plain = export_airflow(
        pipeline, {}, workspace_root=tmp_path, loopml_command="loopml", dag_id=None, schedule=None
    )
    assert "{% raw %}" not in plain


def test_line_breaks_in_values_stay_inside_strings_and_comments(load, tmp_path: Path) -> None:
    pipeline = load(PIPELINE, "diamond")
    label = "one\nimport os; os.system('x')\r\ntwo"
    text = export_airflow(
        pipeline,
        {"label": label},
        workspace_root=tmp_path,
        loopml_command="loopml",
        dag_id=None,
        schedule=None,
    )
    compile(text, "loopml_diamond.py", "exec")
    assert not any(line.startswith("import os") for line in text.splitlines())
    tasks, _ = read_dag(text)
    assert shlex.split(tasks["join"]["bash_command"])[-1] == f"label={label}"


def test_schedule_and_dag_id(load, tmp_path: Path) -> None:
    pipeline = load(PIPELINE, "diamond")

    def export(**options: Any) -> str:
        return export_airflow(
            pipeline, {}, workspace_root=tmp_path, loopml_command="loopml", **options
        )

    assert 'schedule="0 3 * * *",' in export(dag_id="nightly.churn-v2", schedule="0 3 * * *")
    assert 'dag_id="nightly.churn-v2",' in export(dag_id="nightly.churn-v2", schedule=None)
    assert 'schedule="@daily",' in export(dag_id=None, schedule="@daily")
    with pytest.raises(InvalidInput, match=r"schedule 'daily' is neither a cron expression"):
        export(dag_id=None, schedule="daily")
    with pytest.raises(InvalidInput, match="is neither"):
        export(dag_id=None, schedule="0 3 * *")
    with pytest.raises(InvalidInput, match=r"DAG id 'my dag' is not one Airflow takes"):
        export(dag_id="my dag", schedule=None)
    with pytest.raises(InvalidInput, match="pipeline 'diamond' has no parameter 'nn'"):
        export_airflow(
            pipeline,
            {"nn": 1},
            workspace_root=tmp_path,
            loopml_command="loopml",
            dag_id=None,
            schedule=None,
        )
    with pytest.raises(InvalidInput, match="cannot be split"):
        export_airflow(
            pipeline,
            {},
            workspace_root=tmp_path,
            loopml_command="'unclosed",
            dag_id=None,
            schedule=None,
        )


# -- a real Airflow --------------------------------------------------------------------

AIRFLOW_VERSION = "3.3.2"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = PROJECT_ROOT / ".venv-airflow"
INSTALL_TIMEOUT = 1200  # seconds; it takes about 90 here
DAG_TEST_TIMEOUT = 300  # seconds; a run of the diamond takes about 15


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """The ``airflow`` command of ``.venv-airflow``, made (once) when it is not there."""
    with _locked(Path(tempfile.gettempdir()) / "loopml-venv-airflow.lock"):
        reason = _make_airflow_venv()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Airflow test")
        pytest.skip(reason)
    return AIRFLOW_VENV / "bin" / "airflow"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:  # xdist workers must not build the venv at once
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_airflow_venv() -> str | None:
    """Make ``.venv-airflow`` with the pinned Airflow, or say why it could not be made."""
    ready = AIRFLOW_VENV / ".installed-airflow"
    if ready.is_file() and ready.read_text().split()[:1] == [AIRFLOW_VERSION]:
        return None
    shutil.rmtree(AIRFLOW_VENV, ignore_errors=True)
    started = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(AIRFLOW_VENV)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        # No constraints file: Airflow's lives on GitHub, which is out of reach here.
        subprocess.run(
            [
                str(AIRFLOW_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"apache-airflow=={AIRFLOW_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=True,
        )
    except subprocess.CalledProcessError as error:
        errors = [line for line in error.stderr.splitlines() if "ignored" not in line]
        return (
            f"cannot make {AIRFLOW_VENV} with apache-airflow=={AIRFLOW_VERSION}: "
            f"{' | '.join(errors[-3:]) or error}"
        )
    except subprocess.TimeoutExpired:
        return f"installing apache-airflow=={AIRFLOW_VERSION} took over {INSTALL_TIMEOUT} s"
    ready.write_text(f"{AIRFLOW_VERSION} installed in {time.monotonic() - started:.0f} s\n")
    return None


def _airflow_env(home: Path, dags: Path) -> dict[str, str]:
    """A standalone Airflow: its own home and SQLite database, no examples, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",  # gone in 3.x; older ones had it
            "AIRFLOW__METRICS__STATSD_ON": "False",
            "AIRFLOW__METRICS__OTEL_ON": "False",
            "AIRFLOW__TRACES__OTEL_ON": "False",
        }
    )
    return env


def _airflow(airflow: Path, env: dict[str, str], log: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [str(airflow), *args],
        env=env,
        cwd=log.parent,
        capture_output=True,
        text=True,
        timeout=DAG_TEST_TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    log.write_text(output)
    return done.returncode, output


def _tail(output: str) -> str:
    return "\n".join(output.splitlines()[-40:])


def _step_runs(root: Path, after: set[str]) -> list[tuple[str, RunStatus]]:
    with loopml.workspace(root) as ws:
        return [
            (run.name, run.status) for run in ws.store.find_runs(kind="step") if run.id not in after
        ]


def _run_ids(root: Path) -> set[str]:
    with loopml.workspace(root) as ws:
        return {run.id for run in ws.store.find_runs()}


@pytest.mark.airflow
@pytest.mark.timeout(INSTALL_TIMEOUT + 4 * DAG_TEST_TIMEOUT)
def test_airflow_runs_each_step_once_then_all_from_the_cache(
    airflow_bin: Path, cli, tmp_path: Path
) -> None:
    project, dags, home = tmp_path / "project", tmp_path / "dags", tmp_path / "airflow"
    for folder in (project, dags, home):
        folder.mkdir()
    (project / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    cli("init", cwd=project, check=True)
    label = "it's {{ ds }} & more"  # quoted for the shell, kept from Jinja
    exported = cli(
        "export",
        "airflow",
        "pipelines.py:diamond",
        "--param",
        "n=5",
        "--param",
        f"label={label}",
        "--output",
        str(dags / "loopml_diamond.py"),
        cwd=project,
        check=True,
    )
    assert f"to {dags / 'loopml_diamond.py'}" in exported.out
    env = _airflow_env(home, dags)
    code, output = _airflow(airflow_bin, env, tmp_path / "migrate.log", "db", "migrate")
    assert code == 0, _tail(output)

    code, output = _airflow(
        airflow_bin, env, tmp_path / "first.log", "dags", "test", "loopml_diamond"
    )
    assert code == 0, _tail(output)
    assert "state=success" in output, _tail(output)
    steps = ["diamond/source", "diamond/left", "diamond/right", "diamond/join"]
    first = _step_runs(project, after=set())
    ran = sorted(name for name, status in first if status is RunStatus.SUCCEEDED)
    assert ran == sorted(steps), first  # every step ran exactly once, in its own task
    assert {status for _, status in first} == {RunStatus.SUCCEEDED, RunStatus.CACHED}
    with loopml.workspace(project) as ws:
        pipelines = ws.store.find_runs(kind="pipeline")
        assert sorted(run.tags["until"] for run in pipelines) == sorted(
            step.split("/")[1] for step in steps
        )  # one `loopml run --until STEP` per task
        assert {run.status for run in pipelines} == {RunStatus.SUCCEEDED}
        (join,) = [
            run
            for run in ws.store.find_runs(kind="step", name="diamond/join")
            if run.status is RunStatus.SUCCEEDED
        ]
        assert join.params["label"] == label

    seen = _run_ids(project)
    code, output = _airflow(
        airflow_bin, env, tmp_path / "second.log", "dags", "test", "loopml_diamond"
    )
    assert code == 0, _tail(output)
    second = _step_runs(project, after=seen)
    assert second, "the second DAG run recorded no step"
    assert {status for _, status in second} == {RunStatus.CACHED}, second
    assert {name for name, _ in second} == set(steps)

    # A failing step fails its task, and the task after it never runs.
    cli(
        "export",
        "airflow",
        "pipelines.py:diamond",
        "--param",
        "n=5",
        "--param",
        "fail=true",
        "--dag-id",
        "loopml_diamond_failing",
        "--output",
        str(dags / "loopml_diamond_failing.py"),
        cwd=project,
        check=True,
    )
    seen = _run_ids(project)
    code, output = _airflow(
        airflow_bin, env, tmp_path / "failing.log", "dags", "test", "loopml_diamond_failing"
    )
    assert code != 0, _tail(output)
    assert "right was told to fail" in output, _tail(output)
    failing = dict(_step_runs(project, after=seen))
    assert failing["diamond/right"] is RunStatus.FAILED
    assert failing["diamond/left"] is RunStatus.CACHED
    assert "diamond/join" not in failing
