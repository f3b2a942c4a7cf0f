"""Settings with a typo, a store that is not there, a store that cannot be reached: each is
one line naming the setting or the store, exit 2, and nothing made or written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cli_checks import assert_user_error, tree


@pytest.fixture
def workspace(cli, tmp_path: Path) -> Path:
    """A workspace holding one dataset version."""
    cli("init", check=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cli("data", "add", "d.csv", "--name", "d", check=True)
    return tmp_path


def blobs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / ".loopml" / "artifacts").rglob("*"))


@pytest.mark.parametrize(
    ("section", "typo", "named"),
    [
        ("[store]", 'ulr = "sqlite:///elsewhere.db"', "'ulr' in [store]"),
        ("[artifacts]", 'uri = "elsewhere"', "'uri' in [artifacts]"),
    ],
)
def test_a_typo_in_loopml_toml_is_an_error_not_a_fallback(
    cli, workspace: Path, section: str, typo: str, named: str
) -> None:
    config = workspace / "loopml.toml"
    config.write_text(config.read_text().replace(f"{section}\n", f"{section}\n{typo}\n"))
    before = tree(workspace)
    for command in (("info",), ("data", "add", "d.csv", "--name", "other"), ("verify",)):
        assert_user_error(cli(*command), str(config), named, "keys of")
    assert tree(workspace) == before


def test_a_binary_loopml_toml_is_one_line(cli, tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_bytes(bytes(range(256)))
    assert_user_error(cli("info"), "loopml.toml", "not UTF-8 text")


def test_a_deleted_store_is_missing_not_made_anew(cli, workspace: Path) -> None:
    database = workspace / ".loopml" / "loopml.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    before, stored = tree(workspace), blobs(workspace)
    for command in (
        ("verify",),
        ("info",),
        ("data", "log", "d"),
        ("data", "add", "d.csv", "--name", "d2"),
        ("migrate",),
    ):
        result = cli(*command)
        assert_user_error(result, f"store sqlite:///{database} does not exist", "no file")
        assert str(workspace / "loopml.toml") in result.err
        assert "loopml init --stores-only" in result.err
    assert not database.exists()
    assert tree(workspace) == before
    assert blobs(workspace) == stored

    made = cli("init", "--stores-only", check=True)  # the one explicit way back
    assert f"made store sqlite:///{database}" in made.out
    assert cli("verify", check=True).out.strip() == "checked 0 artifacts: 0 damaged"


def test_a_mistyped_store_url_in_the_environment_makes_no_database(cli, workspace: Path) -> None:
    typo = workspace / ".loopml" / "loopml.bd"
    cli.env["LOOPML_STORE_URL"] = f"sqlite:///{typo}"
    before = tree(workspace)
    result = cli("info")
    assert_user_error(result, f"store sqlite:///{typo} does not exist", "LOOPML_STORE_URL")
    assert not typo.exists()
    assert tree(workspace) == before


def test_a_mistyped_artifacts_folder_makes_no_empty_store(cli, workspace: Path) -> None:
    # A new empty folder was made on the first write: records pointing at blobs only
    # that folder held, and `verify` then reported every blob as damage.
    config = workspace / "loopml.toml"
    text = config.read_text()
    assert 'url = ".loopml/artifacts"' in text
    config.write_text(text.replace('".loopml/artifacts"', '".loopml/artefacts"'))
    (workspace / "g.txt").write_text("notes")
    before = tree(workspace)
    for command in (("artifacts", "put", "g.txt", "--name", "g"), ("verify",)):
        assert_user_error(
            cli(*command), f"artifact store {workspace / '.loopml' / 'artefacts'} does not exist"
        )
    assert tree(workspace) == before
    typo = workspace / "nonexist"
    cli.env["LOOPML_ARTIFACTS_URL"] = str(typo)
    assert_user_error(cli("verify"), "does not exist", "LOOPML_ARTIFACTS_URL")
    assert not typo.exists()


def test_an_empty_database_is_not_a_store(cli, workspace: Path) -> None:
    empty = workspace / "empty.db"
    sqlite3.connect(empty).close()  # a file SQLite made, with no tables
    cli.env["LOOPML_STORE_URL"] = f"sqlite:///{empty}"
    assert_user_error(cli("verify"), "does not exist", "no loopml tables")
    connection = sqlite3.connect(empty)
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []
    connection.close()


def test_a_file_that_is_not_a_database(cli, workspace: Path) -> None:
    cli.env["LOOPML_STORE_URL"] = f"sqlite:///{workspace / 'd.csv'}"
    assert_user_error(cli("info"), "is not a SQLite database", "fix the store URL")
    assert (workspace / "d.csv").read_text() == "a,b\n1,2\n3,4\n"


def test_the_library_opens_no_store_that_is_not_there(tmp_path: Path, monkeypatch) -> None:
    import loopml
    from loopml.errors import StoreMissing

    monkeypatch.setenv("LOOPML_STORE_URL", f"sqlite:///{tmp_path}/loopml.db")
    monkeypatch.setenv("LOOPML_ARTIFACTS_URL", str(tmp_path / "artifacts"))
    with loopml.workspace(tmp_path) as ws, pytest.raises(StoreMissing, match="LOOPML_STORE_URL"):
        ws.store  # noqa: B018
    assert os.listdir(tmp_path) == []
    with loopml.workspace(tmp_path, create=True) as ws:
        ws.artifacts.prepare()
        assert ws.store.info().counts["artifacts"] == 0
    assert sorted(os.listdir(tmp_path)) == ["artifacts", "loopml.db"]
    with loopml.workspace(tmp_path) as ws:  # made once, opened as usual from now on
        assert ws.store.info().counts["artifacts"] == 0


def test_stores_only_takes_its_urls_from_the_settings(cli, tmp_path: Path) -> None:
    result = cli("init", "--stores-only", "--store-url", f"sqlite:///{tmp_path}/x.db")
    assert_user_error(result, "--stores-only", "LOOPML_STORE_URL")
    assert os.listdir(tmp_path) == []
    assert_user_error(cli("init", "--stores-only"), "no loopml workspace")


def test_a_workspace_made_by_a_newer_loopml_gets_no_blob(cli, workspace: Path) -> None:
    connection = sqlite3.connect(workspace / ".loopml" / "loopml.db")
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()
    (workspace / "new.csv").write_text("a,b\n5,6\n")
    stored = blobs(workspace)
    for command in (("data", "add", "new.csv", "--name", "d"), ("artifacts", "put", "new.csv")):
        assert_user_error(cli(*command, "--name", "n"), "'9999'", "newer loopml")
    assert blobs(workspace) == stored


@pytest.mark.postgres
def test_a_postgres_database_without_loopml_tables_is_missing(
    cli, tmp_path: Path, postgres_url: str
) -> None:
    import sqlalchemy as sa

    from loopml.store._sql.engine import normalize_url

    cli.env["LOOPML_STORE_URL"] = postgres_url
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "artifacts")
    assert_user_error(cli("info"), "does not exist", "no loopml tables", "LOOPML_STORE_URL")
    engine = sa.create_engine(normalize_url(postgres_url), poolclass=sa.NullPool)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
    engine.dispose()
    cli("init", "--stores-only", check=True)
    assert cli("verify", check=True).out.strip() == "checked 0 artifacts: 0 damaged"


def test_a_postgres_server_that_does_not_answer(cli, tmp_path: Path) -> None:
    """A real PostgreSQL URL on a port where nothing listens: every command says so,
    and verify exits 2 ("could not check"), not 1 ("damage found")."""
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres:secret@127.0.0.1:{port}/postgres"
    (tmp_path / "d.csv").write_text("a\n1\n")
    assert_user_error(cli("init", "--store-url", url), "cannot connect to store", str(port))
    assert os.listdir(tmp_path) == ["d.csv"]
    cli.env["LOOPML_STORE_URL"] = url
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "artifacts")
    for command in (("verify",), ("data", "add", "d.csv", "--name", "d"), ("info",)):
        result = cli(*command)
        assert_user_error(result, "cannot connect to store", f"127.0.0.1:{port}")
        assert "secret" not in result.err
    assert os.listdir(tmp_path) == ["d.csv"]  # no blob was stored before the refusal


def test_joining_a_store_without_its_artifact_store_is_refused(cli, workspace: Path) -> None:
    # Every record made from the new folder pointed at bytes only it held.
    joined = workspace / "teammate"
    joined.mkdir()
    shared = f"sqlite:///{workspace / '.loopml' / 'loopml.db'}"
    found = cli("init", "--store-url", shared, cwd=joined)
    assert_user_error(found, "holds records already", "--artifacts-url")
    assert list(joined.iterdir()) == []
    artifacts = workspace / ".loopml" / "artifacts"
    cli("init", "--store-url", shared, "--artifacts-url", str(artifacts), cwd=joined, check=True)
    assert cli("verify", cwd=joined, check=True).out.endswith(": 0 damaged\n")


@pytest.mark.parametrize(
    ("variable", "value"), [("LOOPML_DEBUG", "banana"), ("LOOPML_PROGRESS", "maybe")]
)
def test_an_on_off_variable_with_another_value_is_an_error(
    cli, workspace: Path, variable: str, value: str
) -> None:
    # "true" was off for LOOPML_DEBUG, "off" was on for LOOPML_PROGRESS
    cli.env[variable] = value
    assert_user_error(cli("data", "add", "d.csv", "--name", "d3"), f"{variable}={value!r}")
    cli.env[variable] = "Off"
    cli("data", "add", "d.csv", "--name", "d3", check=True)
