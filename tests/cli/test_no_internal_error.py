"""Inputs that reached "internal error ... this is a bug" (exit 1): each is now one line
that names the thing and the fix (exit 2), or, for a limit larger than any table, an
answer. Each runs the real command in a real process."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from cli_checks import assert_user_error, tree

HUGE = "9" * 23  # above the largest integer a store column holds (2**63 - 1)


@pytest.fixture
def workspace(cli, tmp_path: Path) -> Path:
    import loopml

    cli("init", check=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cli("data", "add", "d.csv", "--name", "d", check=True)
    with loopml.workspace(tmp_path) as ws:
        ws.store.create_run(kind="train", name="fit", params={"C": 1})
    return tmp_path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_version_number_larger_than_any_store_holds(cli, workspace: Path) -> None:
    assert_user_error(cli("data", "show", f"d@v{HUGE}"), f"no version v{HUGE}", "latest is v1")
    result = cli("artifacts", "get", f"d@v{HUGE}", "out.csv", "--kind", "dataset")
    assert_user_error(result, f"no version v{HUGE}")
    assert not (workspace / "out.csv").exists()


def test_a_limit_larger_than_a_store_holds(cli, workspace: Path) -> None:
    for command in (("runs", "list"), ("alerts",)):
        assert_user_error(cli(*command, "--limit", HUGE), f"limit {HUGE} is out of range")


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("not " * 3000 + "params.C > 1", "nested more than 32 levels"),
        ("params.C > " + "-" * 5000 + "1", "nested more than 32 levels"),
        ("(" * 3000 + "params.C > 1" + ")" * 3000, "too many nested parentheses"),
    ],
)
def test_a_deeply_nested_where(cli, workspace: Path, where: str, fragment: str) -> None:
    assert_user_error(cli("runs", "list", "--where", where), fragment)


def test_a_schema_file_with_nan_rows(cli, workspace: Path) -> None:
    for text, fragment in (
        ("min_rows: .nan\n", "min_rows is not a number (.nan)"),
        ("min_rows: .inf\n", "give a whole number of rows"),
        ("min_rows: 2.5\n", "give a whole number of rows"),
        (
            "columns:\n  a:\n    type: integer\n    range: {min: .nan}\n",
            "range.min is not a number",
        ),
    ):
        (workspace / "schema.yaml").write_text(text)
        assert_user_error(cli("data", "schema", "d", "--set", "schema.yaml"), fragment)
    assert "min_rows: 1\n" in cli("data", "schema", "d", check=True).out


def test_a_placeholder_in_arithmetic_names_the_line(cli, workspace: Path) -> None:
    (workspace / "flow.py").write_text(
        "import loopml\n"
        "\n"
        "@loopml.step\n"
        "def one() -> int:\n"
        "    return 1\n"
        "\n"
        "@loopml.pipeline\n"
        "def flow():\n"
        "    out = one()\n"
        "    return out + 1\n"
    )
    for command in ("run", "status"):
        assert_user_error(
            cli(command, "flow.py"),
            f"{workspace / 'flow.py'}:10:",
            "output of step 'one'",
            "`+`",
            "inside that step",
        )


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("    return 1 - one()", 10, "`-`"),
        ("    return one().shape", 10, "an attribute (.shape)"),
        ("    return float(one())", 10, "a conversion to a number"),
        ("    return one() > 2", 10, "`>`"),
        ("    one()\n    return 1 / 0", 11, "raised ZeroDivisionError"),
    ],
)
def test_other_work_on_placeholders_names_the_line(
    cli, tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    cli("init", check=True)
    (tmp_path / "flow.py").write_text(
        "import loopml\n\n@loopml.step\ndef one() -> int:\n    return 1\n\n"
        f"@loopml.pipeline\ndef flow():\n    pass\n{body}\n"
    )
    assert_user_error(cli("status", "flow.py"), f"flow.py:{line}:", fragment)


@pytest.mark.parametrize(
    ("scheme", "fragments"),
    [
        ("ftp", ("cannot reach artifact store ftp://127.0.0.1", "refused")),
        ("hdfs", ("artifact store hdfs://127.0.0.1",)),
    ],
)
def test_an_artifacts_url_on_storage_that_does_not_answer(
    cli, tmp_path: Path, scheme: str, fragments: tuple[str, ...]
) -> None:
    url = f"{scheme}://127.0.0.1:{closed_port()}/loopml"
    assert_user_error(cli("init", "--artifacts-url", url), *fragments)
    assert os.listdir(tmp_path) == []


def test_an_artifacts_url_with_a_password_hides_it(cli, tmp_path: Path) -> None:
    url = f"ftp://me:secret@127.0.0.1:{closed_port()}/loopml"
    result = cli("init", "--artifacts-url", url)
    assert_user_error(result, "ftp://me:***@127.0.0.1")
    assert "secret" not in result.err


def test_verify_that_could_not_check_exits_2_not_1(cli, workspace: Path) -> None:
    cli.env["LOOPML_ARTIFACTS_URL"] = f"ftp://127.0.0.1:{closed_port()}/loopml"
    before = tree(workspace)
    assert_user_error(cli("verify"), "cannot reach artifact store")
    assert tree(workspace) == before


FIXTURES = Path(__file__).parent.parent / "fixtures" / "damaged"


def test_a_damaged_parquet_file_that_makes_the_reader_panic(cli, workspace: Path) -> None:
    """One flipped byte in a column chunk: Polars' Rust reader panics on it (a
    BaseException, with its own lines printed on stderr); add says the file is damaged,
    in one line, and records nothing."""
    shutil.copy(FIXTURES / "flipped-byte.parquet", workspace / "x.parquet")
    before = records(workspace)
    result = cli("data", "add", "x.parquet", "--name", "x")
    assert_user_error(result, "cannot read x.parquet as PARQUET", "check that the file is whole")
    assert "panicked" not in result.err
    assert records(workspace) == before


def records(root: Path) -> dict[str, object]:
    """The workspace without the stat cache (which learns the file's digest anyway)."""
    return {p: e for p, e in tree(root).items() if not p.startswith(".loopml/stat-cache")}


def test_a_column_named_n(cli, workspace: Path) -> None:
    (workspace / "n.csv").write_text("n,count\na,1\nb,2\na,3\n")
    cli("data", "add", "n.csv", "--name", "counts", check=True)
    shown = cli("data", "show", "counts", "--json", check=True).out
    assert '"name": "n"' in shown


def test_an_error_quoting_a_line_break_stays_one_line(cli, workspace: Path) -> None:
    (workspace / "x.csv").write_text("\x0b\n")  # one column, named by a vertical tab
    assert_user_error(cli("data", "add", "x.csv", "--name", "x"), "has no rows", "\\x0b")


def test_a_failed_init_removes_the_store_it_made_outside_loopml(cli, tmp_path: Path) -> None:
    result = cli("init", "--store-url", "sqlite:///elsewhere.db", "--artifacts-url", "nosuch://x")
    assert_user_error(result, "nosuch://x")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("url", ["nosuch://[::1:0/x", "ftp://[::1/x"])
def test_an_artifacts_url_that_is_not_a_url(cli, tmp_path: Path, url: str) -> None:
    assert_user_error(cli("init", "--artifacts-url", url), "is not a URL")
    assert os.listdir(tmp_path) == []


def test_urls_holding_a_nul_character(cli, tmp_path: Path) -> None:
    """argv cannot hold NUL, so the library is asked directly."""
    import loopml
    from loopml.errors import InvalidURL

    for store, artifacts in (("sqlite:///x\x00.db", None), (None, "blobs\x00")):
        with pytest.raises(InvalidURL, match="NUL character"):
            loopml.init(tmp_path, store_url=store, artifacts_url=artifacts)
        assert os.listdir(tmp_path) == []


def test_a_store_host_the_driver_cannot_encode(cli, tmp_path: Path) -> None:
    cli.env["LOOPML_STORE_URL"] = "postgresql://u@h\x86st:1/x"
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "artifacts")
    assert_user_error(cli("info"), "cannot be used", "idna")
    assert os.listdir(tmp_path) == []


def test_an_artifacts_folder_that_is_a_file(cli, workspace: Path) -> None:
    cli.env["LOOPML_ARTIFACTS_URL"] = str(workspace / "d.csv")
    before = tree(workspace)
    for command in (("verify",), ("data", "checkout", "d", "new.csv"), ("info",)):
        assert_user_error(cli(*command), f"{workspace / 'd.csv'} is not a folder")
    assert tree(workspace) == before
