"""`loopml init`, `info`, `migrate`, `verify` and the error contract, in real processes."""

from __future__ import annotations

import json
from pathlib import Path

from loopml.store._sql.schema import HEAD


def test_init_then_info(cli, tmp_path: Path) -> None:
    # The installed script started anew, as the other tests' forked processes stand for.
    made = cli("init", check=True, new_process=True)
    assert "made a loopml workspace" in made.out
    assert (tmp_path / "loopml.toml").is_file()
    assert (tmp_path / ".loopml" / "loopml.db").is_file()
    assert (tmp_path / ".loopml" / "artifacts" / "blobs").is_dir()
    info = json.loads(cli("info", "--json", check=True, new_process=True).out)
    assert info["backend"] == "sqlite"
    assert info["schema"] == HEAD
    assert info["artifacts"] == str(tmp_path / ".loopml" / "artifacts")
    assert info["counts"] == {
        "artifacts": 0,
        "runs": 0,
        "events": 0,
        "metrics": 0,
        "aliases": 0,
        "alerts": 0,
        "schedules": 0,
        "deployments": 0,
        "review_items": 0,
    }


def test_the_store_is_in_wal_mode(cli, tmp_path: Path) -> None:
    import sqlite3

    cli("init", check=True)
    connection = sqlite3.connect(tmp_path / ".loopml" / "loopml.db")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_workspace_is_found_from_a_subfolder(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    info = json.loads(cli("info", "--json", cwd=deep, check=True).out)
    assert info["settings"] == str(tmp_path / "loopml.toml")


def test_env_urls_need_no_file(cli, tmp_path: Path) -> None:
    cli.env["LOOPML_STORE_URL"] = f"sqlite:///{tmp_path}/elsewhere.db"
    cli.env["LOOPML_ARTIFACTS_URL"] = str(tmp_path / "blobs-here")
    made = cli("init", "--stores-only", check=True)
    assert f"made store sqlite:///{tmp_path}/elsewhere.db" in made.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs-here", "elsewhere.db"]
    info = json.loads(cli("info", "--json", check=True).out)
    assert info["settings"] == "environment"
    assert info["store"] == f"sqlite:///{tmp_path}/elsewhere.db"
    again = cli("init", "--stores-only", check=True)
    assert "exists already" in again.out


def test_env_overrides_the_file(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    cli.env["LOOPML_STORE_URL"] = f"sqlite:///{tmp_path}/override.db"
    cli("init", "--stores-only", check=True)
    info = json.loads(cli("info", "--json", check=True).out)
    assert info["store"].endswith("override.db")
    assert info["artifacts"] == str(tmp_path / ".loopml" / "artifacts")


def test_init_on_postgres(cli, tmp_path: Path, postgres_url: str) -> None:
    cli("init", "--store-url", postgres_url, check=True)
    info = json.loads(cli("info", "--json", check=True).out)
    assert info["backend"] == "postgresql"
    assert not (tmp_path / ".loopml" / "loopml.db").exists()


def test_help_and_version(cli) -> None:
    help_text = cli("--help", check=True).out
    for command in ("init", "info", "migrate", "verify"):
        assert command in help_text
    assert cli("--version", check=True).out.startswith("loopml ")


def test_migrate_reports_the_schema(cli) -> None:
    cli("init", check=True)
    assert f"schema {HEAD}" in cli("migrate", check=True).out


def test_verify_finds_a_corrupt_and_a_missing_blob(cli, tmp_path: Path) -> None:
    import loopml

    cli("init", check=True)
    with loopml.workspace(tmp_path) as ws:
        for name, data in (("good", b"good"), ("bad", b"bad"), ("gone", b"gone")):
            blob = ws.artifacts.put_bytes(data)
            ws.store.create_artifact(kind="file", name=name, digest=blob.digest, size=blob.size)
            if name == "bad":
                path = ws.artifacts.local_path(blob.digest)
                path.chmod(0o644)
                path.write_bytes(b"BAD")
            if name == "gone":
                ws.artifacts.local_path(blob.digest).unlink()
    result = cli("verify")
    assert result.code == 1
    assert "checked 3 artifacts: 2 damaged" in result.out
    assert "bad@v1" in result.err
    assert "corrupt" in result.err
    assert "gone@v1" in result.err
    assert "missing" in result.err
