"""What a user meets in a terminal: tables at 80 and 60 columns that never cut an id or
a ref, plain complete lines when piped, an example in every --help, words for
placeholders, shell completion, --debug anywhere, `data list`, `runs list --sort`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_bad_input import assert_user_error
from test_json_output import command_paths
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml._ids import short_id
from loopml.cli._app import app
from loopml.store import MetricPoint

DATASET = "customer-churn-monthly-export"
MODEL = "customer-churn-gradient-boosting"
ABOUT = "the January export of the CRM, with the accounts closed by support removed " * 3


@pytest.fixture
def busy(cli, tmp_path: Path) -> dict[str, Any]:
    """A workspace with long names: two versions of a dataset, three runs with many
    params and metrics, two versions of a model, a schedule. Returns the ids and refs
    a user must be able to copy from any table."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    table = X.assign(target=y)
    run_ids = []
    with loopml.init(tmp_path) as ws, threadpool_limits(1):
        loopml.data.add(table.iloc[:100], name=DATASET, description=ABOUT, workspace=ws)
        loopml.data.add(table, name=DATASET, label="target", workspace=ws)
        for index, auc in enumerate((0.81, 0.93, 0.87)):
            run = ws.store.create_run(
                kind="training",
                name=f"train-gradient-boosting-{index}",
                params={"learning_rate": 0.1, "max_depth": 6, "n_estimators": 400, "seed": index},
            )
            ws.store.log_metrics(
                run.id,
                [MetricPoint("auc", auc), MetricPoint("log_loss", 0.3), MetricPoint("f1", 0.7)],
            )
            run_ids.append(run.id)
        for C in (0.1, 1.0):
            model = LogisticRegression(C=C, max_iter=500).fit(X, y)
            registry.register(model, MODEL, signature_from=X, workspace=ws)
    return {
        "runs": [short_id(run_id) for run_id in run_ids],
        "refs": [f"{DATASET}@v1", f"{DATASET}@v2", f"{MODEL}@v1", f"{MODEL}@v2"],
        "run_ids": run_ids,
    }


LISTINGS = [
    ["runs", "list"],
    ["data", "list"],
    ["data", "log", DATASET],
    ["data", "show", f"{DATASET}@v2"],
    ["artifacts", "list"],
    ["models", "list"],
    ["models", "list", MODEL],
    ["models", "show", f"{MODEL}@v2"],
]


def must_show(busy: dict[str, Any], args: list[str]) -> list[str]:
    """The ids and refs a listing must show whole."""
    if args[:2] == ["runs", "list"]:
        return busy["runs"]
    if args[:2] == ["data", "list"]:
        return [f"{DATASET}@v2"]
    if args[:2] == ["data", "log"]:
        return [f"{DATASET}@v1", f"{DATASET}@v2"]
    if args[:2] == ["data", "show"]:
        return [f"{DATASET}@v2", "sepal length (cm)"]
    if args[:2] == ["artifacts", "list"]:
        return busy["refs"]
    if args == ["models", "list"]:
        return [MODEL]
    if args[:2] == ["models", "list"]:
        return [f"{MODEL}@v1", f"{MODEL}@v2"]
    return [f"{MODEL}@v2", "sepal length (cm)"]


def check_fits(text: str, columns: int, wanted: list[str], args: list[str]) -> None:
    assert "…" not in text, (args, text)
    for line in text.splitlines():
        assert len(line) <= columns, (args, columns, line)
    for token in wanted:
        assert re.search(rf"(^|\s){re.escape(token)}(\s|$)", text, re.M), (args, token, text)


@pytest.mark.parametrize("columns", [80, 60])
def test_narrow_terminals_never_cut_an_id_or_a_ref(cli, busy: dict[str, Any], columns: int) -> None:
    cli.env["COLUMNS"] = str(columns)
    for args in LISTINGS:
        result = cli(*args)
        assert result.code == 0, (args, result)
        check_fits(result.out, columns, must_show(busy, args), args)
    shown = cli("runs", "list").out
    if columns == 60:
        assert "left out at this width" in shown  # and says so


def in_a_terminal(args: list[str], columns: int, env: dict[str, str], cwd: Path) -> str:
    """The output of `loopml ARGS` in a real pseudo-terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    command = [str(Path(sys.executable).with_name("loopml")), *args]
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "dumb"}
    done = subprocess.Popen(command, stdout=follower, stderr=follower, cwd=cwd, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.wait(timeout=120) == 0
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # colours, if any


def test_a_real_terminal_at_60_columns(cli, busy: dict[str, Any], tmp_path: Path) -> None:
    for args in (["runs", "list"], ["data", "log", DATASET], ["models", "list", MODEL]):
        text = in_a_terminal(args, 60, cli.env, tmp_path)
        check_fits(text, 60, must_show(busy, args), args)
        assert "───" in text  # the header's rule: a terminal's table, not a pipe's


def test_piped_output_is_plain_and_complete(cli, busy: dict[str, Any]) -> None:
    log = cli("data", "log", DATASET, check=True).out
    row = next(line for line in log.splitlines() if f"{DATASET}@v1" in line)
    assert ABOUT.strip() in row  # the whole description, on the row's one line
    for args in LISTINGS:
        text = cli(*args, check=True).out
        assert "…" not in text
        assert not set(text) & set("│┃━─┏┡└"), (args, text)  # no box lines
        assert "\x1b[" not in text  # no colours
    runs = cli("runs", "list", check=True).out.splitlines()
    assert len(runs) == 1 + len(busy["runs"])  # a header and one line per run


def test_every_help_has_an_example_and_words_for_placeholders(cli) -> None:
    paths = [(), *sorted({path[:1] for path in command_paths() if len(path) > 1})]
    paths += command_paths()
    for path in paths:
        text = cli(*path, "--help", check=True).out
        assert "Example" in text, (path, text)
        example = text.split("Example", 1)[1]
        assert re.search(r"^\s+(\* \* \* \* \* .*)?loopml \S", example, re.M), (path, text)
        # Words, not types: no <str>, {path}, TEXT-for-a-name, INTEGER...
        assert not re.search(r"<\w[\w ]*>|\{\w+\}|\bINTEGER\b|\bFLOAT\b", text), (path, text)
    command: Any = typer.main.get_command(app)

    def placeholders(node: Any) -> list[tuple[str, str]]:
        found = []
        for param in node.params:
            if getattr(param, "is_flag", False) or param.name in ("install_completion",):
                continue
            found.append((param.name, param.metavar))
        for sub in getattr(node, "commands", {}).values():
            found += placeholders(sub)
        return found

    for name, metavar in placeholders(command):
        if name == "show_completion":
            continue
        assert metavar, name
        word = r"[A-Z][A-Za-z0-9_.:=\[\]-]*|[a-z]+(\|[a-z]+)+"  # NAME=VALUE, local|ray
        assert re.fullmatch(rf"\[?({word})\]?(\.\.\.)?", metavar), (name, metavar)


def test_shell_completion_is_on(cli) -> None:
    # Name the shell: detecting it from the parent process fails under a test runner.
    cli.env["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"
    script = cli("--show-completion", "bash", check=True).out
    assert "_LOOPML_COMPLETE=complete_bash" in script
    cli.env.update(_LOOPML_COMPLETE="complete_bash", COMP_WORDS="loopml data ch", COMP_CWORD="2")
    assert cli().out.split() == ["checkout"]


@pytest.mark.parametrize(
    "args",
    [
        ["--debug", "data", "show", "nothing@v1"],
        ["data", "show", "nothing@v1", "--debug"],
        ["data", "--debug", "show", "nothing@v1"],
    ],
)
def test_debug_works_anywhere_on_the_line(cli, args: list[str]) -> None:
    result = cli(*args)  # no workspace here: a user error, shown with its traceback
    assert "Traceback" in result.err, result
    assert "WorkspaceNotFound" in result.err, result
    assert "No such option" not in result.err


def test_debug_after_a_double_dash_is_an_argument(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    result = cli("data", "show", "--", "--debug")
    assert_user_error(result, "--debug")  # the ref given, refused as a name


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "data", "list"],
        ["data", "--json", "list"],
        ["data", "list", "--json"],
        ["--json", "--debug", "data", "list", "--json"],
    ],
)
def test_json_works_anywhere_on_the_line(cli, args: list[str]) -> None:
    cli("init", check=True)
    result = cli(*args)
    assert result.code == 0, result
    assert json.loads(result.out) == []


def test_json_on_the_top_level_command_is_the_command_s(cli) -> None:
    cli("init", check=True)
    assert json.loads(cli("--json", "info", check=True).out) == json.loads(
        cli("info", "--json", check=True).out
    )


def test_json_with_no_command_says_a_command_is_missing(cli) -> None:
    for args in (["data", "--json"], ["--json"]):
        result = cli(*args)
        assert result.code == 2, result
        assert "Missing command." in result.err, result
        assert "No such option" not in result.err


def test_json_after_a_double_dash_is_an_argument(cli) -> None:
    cli("init", check=True)
    result = cli("data", "show", "--", "--json")
    assert_user_error(result, "--json")  # the ref given, refused as a name


def test_data_list(cli, busy: dict[str, Any]) -> None:
    listed = json.loads(cli("data", "list", "--json", check=True).out)
    assert [(d["name"], d["ref"], d["rows"], d["columns"]) for d in listed] == [
        (DATASET, f"{DATASET}@v2", 150, 5)
    ]
    text = cli("data", "list", check=True).out
    header, row = text.splitlines()
    assert header.split() == ["dataset", "latest", "rows", "cols", "added"]
    assert row.split()[:4] == [DATASET, f"{DATASET}@v2", "150", "5"]


def test_runs_sort_by_a_metric(cli, busy: dict[str, Any]) -> None:
    def order(*sort: str) -> list[float]:
        rows = json.loads(cli("runs", "list", *sort, "--json", check=True).out)
        return [row["metrics"].get("auc") for row in rows]

    assert order("--sort", "metrics.auc") == [0.81, 0.87, 0.93]
    assert order("--sort", "-metrics.auc") == [0.93, 0.87, 0.81]
    assert order("--sort=-metrics.auc", "--limit", "1") == [0.93]  # the best, not the newest
    assert order("--sort", "-metrics.auc", "--where", "params.seed < 2") == [0.93, 0.81]
    best = cli("runs", "list", "--sort", "-metrics.auc", check=True).out.splitlines()[1]
    assert best.split()[0] == busy["runs"][1]
    assert_user_error(cli("runs", "list", "--sort", "metrics."), "--sort", "metrics.KEY")
    assert_user_error(cli("runs", "list", "--sort", "colour"), "'colour'", "-metrics.auc")
