"""Bad input: one line naming the thing, the value and the fix; exit code 2; nothing lost."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest


def assert_user_error(result, *fragments: str) -> None:
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("error: "), result
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def rows(database: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(database)
    try:
        return [
            row
            for table in ("artifacts", "runs", "metrics", "alembic_version")
            for row in connection.execute(f"SELECT * FROM {table}")
        ]
    finally:
        connection.close()


@pytest.fixture
def populated(cli, tmp_path: Path) -> Path:
    """A workspace holding one artifact and one run with metrics."""
    import loopml
    from loopml.store import MetricPoint

    cli("init", check=True)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with loopml.workspace(tmp_path) as ws:
        run = ws.store.create_run(kind="train", name="fit", params={"C": 1})
        ws.store.log_metrics(run.id, [MetricPoint("loss", 0.5)])
        ws.add_file(tmp_path / "data.csv", name="data", run_id=run.id)
    return tmp_path / ".loopml" / "loopml.db"


def test_missing_workspace(cli, tmp_path: Path) -> None:
    assert_user_error(cli("info"), str(tmp_path), "loopml init", "LOOPML_STORE_URL")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mongodb://db.example/x", "'mongodb'"),
        ("this is not a url", "not a database URL"),
        ("sqlite://", "names no database file"),
    ],
)
def test_bad_store_url(cli, tmp_path: Path, url: str, fragment: str) -> None:
    cli.env["LOOPML_STORE_URL"] = url
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "blobs")
    assert_user_error(cli("info"), fragment, "sqlite:///path/to/loopml.db")


def test_bad_artifacts_url_leaves_no_half_made_workspace(cli, tmp_path: Path) -> None:
    assert_user_error(cli("init", "--artifacts-url", "nosuch://bucket/x"), "nosuch://bucket/x")
    assert sorted(os.listdir(tmp_path)) == []


def test_artifacts_option_that_is_not_key_value(cli, tmp_path: Path) -> None:
    result = cli("init", "--artifacts-option", "endpoint_url")
    assert_user_error(result, "--artifacts-option", "'endpoint_url'", "KEY=VALUE")
    assert sorted(os.listdir(tmp_path)) == []


def test_postgres_server_that_is_not_there(cli, tmp_path: Path) -> None:
    cli.env["LOOPML_STORE_URL"] = "postgresql://loopml:secret@127.0.0.1:1/loopml"
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "blobs")
    result = cli("info")
    assert_user_error(result, "cannot connect to store", "127.0.0.1:1")
    assert "secret" not in result.err


def test_init_twice_keeps_the_workspace(cli, populated: Path) -> None:
    before = rows(populated)
    config = (populated.parent.parent / "loopml.toml").read_text()
    assert_user_error(cli("init"), "exists already")
    assert rows(populated) == before
    assert (populated.parent.parent / "loopml.toml").read_text() == config


def test_broken_settings_file(cli, tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_text("[store\nurl = 3")
    assert_user_error(cli("info"), "loopml.toml", "not valid TOML")


def test_init_in_a_read_only_folder(cli, tmp_path: Path) -> None:
    target = tmp_path / "locked"
    target.mkdir()
    try:
        result = cli("init", cwd=target, read_only=target)
    finally:
        target.chmod(0o755)
    assert_user_error(result, str(target), "folder you can write to")
    assert os.listdir(target) == []


def test_a_workspace_that_became_read_only(cli, tmp_path: Path, populated: Path) -> None:
    before = rows(populated)
    try:
        result = cli("artifacts", "put", "data.csv", "--name", "more", read_only=tmp_path)
    finally:
        tmp_path.chmod(0o755)
    # the store is opened first now: it says the folder is read-only, before any blob
    assert_user_error(result, "read-only", "writable")
    assert rows(populated) == before


def test_a_workspace_made_by_a_newer_loopml(cli, populated: Path) -> None:
    connection = sqlite3.connect(populated)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()
    before = rows(populated)
    for command in ("info", "migrate"):
        assert_user_error(cli(command), "'9999'", "newer loopml", "pip install -U loopml")
    assert rows(populated) == before


def test_reading_a_read_only_workspace_says_why_it_cannot(cli, tmp_path: Path, populated) -> None:
    try:
        result = cli("info", read_only=tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert_user_error(result, "read-only", "-wal and -shm", "writable")


def test_a_blob_that_does_not_match_its_digest(cli, tmp_path: Path, populated: Path) -> None:
    import loopml

    with loopml.workspace(tmp_path) as ws:
        [artifact] = ws.store.find_artifacts(name="data")
        blob = ws.artifacts.local_path(artifact.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"a,b\n1,3\n")
    result = cli("artifacts", "get", "data@v1", "out.csv")
    assert_user_error(result, artifact.digest, "corrupt", "restore it")
    assert not (tmp_path / "out.csv").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".out.csv")]


def test_a_missing_blob(cli, tmp_path: Path, populated: Path) -> None:
    import loopml

    with loopml.workspace(tmp_path) as ws:
        [artifact] = ws.store.find_artifacts(name="data")
        ws.artifacts.local_path(artifact.digest).unlink()
    assert_user_error(cli("artifacts", "get", "data", "out.csv"), artifact.digest, "missing")


def test_unknown_versions_and_bad_names(cli, populated: Path) -> None:
    assert_user_error(cli("artifacts", "get", "data@v7", "x"), "v7", "latest is v1")
    assert_user_error(cli("artifacts", "get", "data@champion", "x"), "no alias 'champion'")
    assert_user_error(cli("artifacts", "put", "data.csv", "--name", "../up"), "'../up'")
    assert_user_error(cli("artifacts", "put", "nope.csv", "--name", "x"), "nope.csv", "missing")


def test_a_name_of_another_kind_names_the_kind_to_give(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cli("data", "add", "d.csv", "--name", "d", check=True)
    cli("data", "validate", "d@v1", "--report", "first.html", check=True)
    result = cli("artifacts", "get", "d.v1.report@v1", "REPORT.html")
    assert_user_error(
        result, "there is no file 'd.v1.report'", "there is a report 'd.v1.report'",
        "add --kind report",
    )  # fmt: skip
    assert not (tmp_path / "REPORT.html").exists()
    cli("artifacts", "put", "d.csv", "--name", "d", "--kind", "notes", check=True)
    result = cli("artifacts", "get", "d@v1", "x.csv")
    assert_user_error(result, "there are dataset, notes, schema artifacts 'd'",
                      "add --kind dataset, --kind notes or --kind schema")  # fmt: skip
    got = cli("artifacts", "get", "d.v1.report@v1", "REPORT.html", "--kind", "report")
    assert got.code == 0, got
    # a version missing of a kind that has the name: no other kind to name
    result = cli("artifacts", "get", "d@v7", "x.csv", "--kind", "notes")
    assert_user_error(result, "latest is v1")
    assert "--kind" not in result.err


def test_debug_shows_the_traceback(cli) -> None:
    result = cli("--debug", "info", new_process=True)  # as Python prints it, at exit
    assert result.code != 0
    assert "Traceback" in result.err
    assert "WorkspaceNotFound" in result.err


def test_usage_errors_exit_2(cli) -> None:
    result = cli("info", "--no-such-option", new_process=True)
    assert result.code == 2
    assert "No such option" in result.err


def test_tracing_an_id_no_server_gives_says_it_could_not_be_one(cli, populated: Path) -> None:
    """An id of the wrong form is not in the log, and cannot be: the message says why;
    a well-formed id that is not there is told only that it is not."""
    odd = cli("trace", "abc")
    assert_user_error(odd, "no prediction 'abc' is in the prediction log (nor could it be")
    missing = cli("trace", "0" * 32)
    assert_user_error(missing, "is in the prediction log; give the id a server answered with")
    assert "nor could it be" not in missing.err
