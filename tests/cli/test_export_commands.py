"""`loopml export airflow` through the real command."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path

from test_bad_input import assert_user_error

PIPELINE = """
import loopml

@loopml.step
def make(n: int) -> list:
    return list(range(n))

@loopml.step
def total(values: list) -> int:
    return sum(values)

@loopml.pipeline
def sums(n: int = 4):
    return total(make(n))
"""


def setup(cli, tmp_path: Path) -> None:
    (tmp_path / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    cli("init", check=True)


def test_export_writes_a_dag_file_and_will_not_overwrite_it(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    result = cli("export", "airflow", "pipelines.py:sums", "--param", "n=5", check=True)
    assert "wrote Airflow DAG loopml_sums (2 tasks) to loopml_sums.py" in result.out
    assert str(tmp_path) in result.out  # where the tasks run
    text = (tmp_path / "loopml_sums.py").read_text()
    compile(text, "loopml_sums.py", "exec")
    loopml = shlex.quote(str(Path(sys.executable).with_name("loopml")))
    run = f"{loopml} run {tmp_path / 'pipelines.py'}:sums"
    assert f'"cd {tmp_path} && {run} --until make --param n=5"' in text
    assert "    make >> total\n" in text

    assert_user_error(
        cli("export", "airflow", "pipelines.py:sums"), "loopml_sums.py", "other content", "--force"
    )
    assert (tmp_path / "loopml_sums.py").read_text() == text  # untouched
    same = cli("export", "airflow", "pipelines.py:sums", "--param", "n=5", check=True)
    assert "is up to date: left as it is" in same.out  # the same DAG: nothing to refuse
    cli("export", "airflow", "pipelines.py", "--force", check=True)  # the file's one pipeline
    assert "--param" not in (tmp_path / "loopml_sums.py").read_text()


def test_export_options(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    (tmp_path / "dags").mkdir()
    result = cli(
        "export",
        "airflow",
        "pipelines.py:sums",
        "--dag-id",
        "nightly_sums",
        "--schedule",
        "0 3 * * *",
        "--loopml-command",
        "uv run loopml",
        "-o",
        "dags/sums.py",
        check=True,
    )
    assert "wrote Airflow DAG nightly_sums (2 tasks) to dags/sums.py" in result.out
    text = (tmp_path / "dags" / "sums.py").read_text()
    assert 'dag_id="nightly_sums",' in text
    assert 'schedule="0 3 * * *",' in text
    assert f"&& uv run loopml run {tmp_path / 'pipelines.py'}:sums --until total" in text
    assert not (tmp_path / "nightly_sums.py").exists()


def test_export_bad_input(cli, tmp_path: Path, tmp_path_factory) -> None:
    setup(cli, tmp_path)
    assert_user_error(
        cli("export", "airflow", "pipelines.py:sums", "--schedule", "nightly"),
        "schedule 'nightly' is neither a cron expression",
    )
    assert_user_error(
        cli("export", "airflow", "pipelines.py:sums", "--dag-id", "a/b"),
        "DAG id 'a/b' is not one Airflow takes",
    )
    assert_user_error(
        cli("export", "airflow", "pipelines.py:sums", "--param", "m=1"), "no parameter 'm'"
    )
    assert_user_error(cli("export", "airflow", "missing.py:sums"), "missing.py does not exist")
    elsewhere = tmp_path_factory.mktemp("no-workspace")
    assert_user_error(
        cli("export", "airflow", str(tmp_path / "pipelines.py"), cwd=elsewhere),
        "no loopml workspace",
    )
    assert not list(tmp_path.glob("loopml_*.py"))
    assert not list(elsewhere.iterdir())
