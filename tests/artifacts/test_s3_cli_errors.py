"""The CLI on an S3 artifact store it cannot use: a wrong port, wrong or no credentials.

Each command says so in one line naming the store, the cause and the fix, exits 2
(``verify``: "could not check", not "damage found"), and writes nothing. The server is
the real one the test session starts (SeaweedFS); only the settings are wrong.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from cli_checks import assert_user_error, tree
from seaweedfs import S3Server

pytestmark = pytest.mark.s3


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_cli(cli, tmp_path: Path):
    """The CLI with none of the machine's AWS settings, failing fast (one attempt)."""
    for name in list(cli.env):
        if name.startswith("AWS_"):
            del cli.env[name]
    cli.env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return cli


def options(endpoint: str, key: str | None, secret: str | None) -> list[str]:
    given = {"endpoint_url": endpoint, "key": key, "secret": secret}
    return [
        item
        for name, value in given.items()
        if value is not None
        for item in ("--artifacts-option", f"{name}={value}")
    ]


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("port", ("cannot reach artifact store", "Could not connect", "endpoint_url")),
        ("credentials", ("no credentials", "AWS_ACCESS_KEY_ID", "[artifacts.options]")),
    ],
)
def test_init_says_what_is_wrong_and_leaves_nothing(
    s3_cli, s3_server: S3Server, s3_bucket: str, tmp_path: Path, setting: str, fragments
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}" if setting == "port" else s3_server.endpoint_url
    key, secret = (s3_server.key, s3_server.secret) if setting == "port" else (None, None)
    result = s3_cli(
        "init", "--artifacts-url", f"s3://{s3_bucket}/x", *options(endpoint, key, secret)
    )
    assert_user_error(result, f"s3://{s3_bucket}/x", *fragments)
    assert os.listdir(tmp_path) == []


@pytest.fixture
def s3_workspace(s3_cli, s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> Path:
    """A workspace on S3 holding dataset d@v1, and d.csv changed since."""
    given = options(s3_server.endpoint_url, s3_server.key, s3_server.secret)
    s3_cli("init", "--artifacts-url", f"s3://{s3_bucket}/ws", *given, check=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    s3_cli("data", "add", "d.csv", "--name", "d", check=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    return tmp_path


def objects(server: S3Server, bucket: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("port", ("cannot reach artifact store", "Could not connect")),
        ("wrong credentials", ("refused", "check the credentials")),
        ("no credentials", ("no credentials", "AWS_ACCESS_KEY_ID")),
    ],
)
def test_commands_on_a_store_they_cannot_use(
    s3_cli,
    s3_server: S3Server,
    s3_bucket: str,
    s3_workspace: Path,
    setting: str,
    fragments: tuple[str, ...],
) -> None:
    config = s3_workspace / "loopml.toml"
    text = config.read_text()
    if setting == "port":
        text = text.replace(s3_server.endpoint_url, f"http://127.0.0.1:{closed_port()}")
    elif setting == "wrong credentials":
        text = text.replace(json.dumps(s3_server.secret), json.dumps("not-the-secret"))
    else:
        text = "\n".join(line for line in text.splitlines() if not line.startswith('"key"'))
        text = "\n".join(line for line in text.splitlines() if not line.startswith('"secret"'))
    config.write_text(text)
    before, stored = tree(s3_workspace), objects(s3_server, s3_bucket)
    for command in (
        ("data", "add", "d.csv", "--name", "d"),
        ("data", "checkout", "d@v1", "out.csv"),
        ("verify",),
    ):
        assert_user_error(s3_cli(*command), f"s3://{s3_bucket}/ws", *fragments)
    assert tree(s3_workspace) == before  # no out.csv, no half-written file
    assert objects(s3_server, s3_bucket) == stored


def test_verify_on_a_bucket_that_does_not_exist_could_not_check(
    s3_cli, s3_server: S3Server, s3_bucket: str, s3_workspace: Path
) -> None:
    # Every blob read as missing, and verify reported them all as damage to restore.
    config = s3_workspace / "loopml.toml"
    config.write_text(config.read_text().replace(f"s3://{s3_bucket}/ws", "s3://no-such-bucket/ws"))
    found = s3_cli("verify")
    assert_user_error(found, "s3://no-such-bucket/ws does not exist", "no such bucket")
    assert "damaged" not in found.out
