"""The artifact store on s3://, against a real S3 server (SeaweedFS) on 127.0.0.1.

The tests change the bucket behind the store's back with boto3, the way another
process, a lifecycle rule or a person would.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from loopml.artifacts import ArtifactStore, digest_bytes
from loopml.errors import BlobMissing, DigestMismatch, LoopmlError
from seaweedfs import S3Server, new_bucket_name

pytestmark = pytest.mark.s3

MIB = 1024 * 1024
PREFIX = "artifacts"  # the prefix of s3_url


def blob_key(digest: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/blobs/{digest[:2]}/{digest[2:]}"


def bucket_of(url: str) -> str:
    return url.removeprefix("s3://").split("/", 1)[0]


def objects(server: S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    """Every object in the bucket, by key, as the server lists them."""
    listing = server.client().list_objects_v2(Bucket=bucket)
    assert not listing["IsTruncated"]
    return {item["Key"]: item for item in listing.get("Contents", [])}


@pytest.fixture
def store(s3_url: str, s3_options: dict[str, Any]) -> ArtifactStore:
    return ArtifactStore(s3_url, s3_options)


def test_bytes_round_trip(store: ArtifactStore, s3_server: S3Server, s3_url: str) -> None:
    blob = store.put_bytes(b"hello, bucket")
    assert blob.digest == digest_bytes(b"hello, bucket")
    assert blob.size == len(b"hello, bucket")
    assert store.read_bytes(blob.digest) == b"hello, bucket"
    # Stored under its digest, and nowhere else.
    assert list(objects(s3_server, bucket_of(s3_url))) == [blob_key(blob.digest)]
    assert store.location == s3_url
    assert store.local_path(blob.digest) is None


@pytest.mark.parametrize("upload", ["single put", "multipart"])
def test_large_file_round_trip(
    upload: str,
    store: ArtifactStore,
    s3_server: S3Server,
    s3_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if upload == "multipart":
        # s3fs uploads files of two parts' size or more in parts, 50 MiB by default:
        # 5 MiB parts (S3's smallest) make this file four of them.
        import s3fs.core

        monkeypatch.setattr(s3fs.core, "calculate_chunksize", lambda *a, **k: 5 * MIB)
    data = os.urandom(20 * MIB + 13)  # five 4 MiB chunks of the store's, and a ragged end
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    blob = store.put_file(source)
    assert blob.size == len(data)
    assert blob.digest == digest_bytes(data)
    head = s3_server.client().head_object(Bucket=bucket_of(s3_url), Key=blob_key(blob.digest))
    assert head["ContentLength"] == len(data)
    assert ("-" in head["ETag"]) == (upload == "multipart")  # a multipart ETag is md5-N
    dest = store.get_file(blob.digest, tmp_path / "out" / "big.copy")
    assert dest == tmp_path / "out" / "big.copy"
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["big.copy"]  # no .part left
    assert store.verify(blob.digest).size == len(data)


def test_identical_content_is_stored_once(
    store: ArtifactStore, s3_server: S3Server, s3_url: str, tmp_path: Path
) -> None:
    bucket = bucket_of(s3_url)
    first = store.put_bytes(b"same bytes")
    before = objects(s3_server, bucket)
    assert list(before) == [blob_key(first.digest)]
    # S3 times have one-second resolution: a second upload after this would show.
    time.sleep(1.1)
    (tmp_path / "same").write_bytes(b"same bytes")
    assert store.put_file(tmp_path / "same") == first
    assert store.put_bytes(b"same bytes") == first
    assert list(store.digests()) == [first.digest]
    after = objects(s3_server, bucket)
    assert list(after) == [blob_key(first.digest)]
    key = blob_key(first.digest)
    assert after[key]["LastModified"] == before[key]["LastModified"]  # not uploaded again
    assert after[key]["ETag"] == before[key]["ETag"]


def test_exists(store: ArtifactStore) -> None:
    digest = digest_bytes(b"not yet")
    assert not store.exists(digest)
    assert store.put_bytes(b"not yet").digest == digest
    assert store.exists(digest)
    assert not store.exists(digest_bytes(b"something else"))


def test_blob_deleted_behind_the_store_is_missing(
    store: ArtifactStore, s3_server: S3Server, s3_url: str, tmp_path: Path
) -> None:
    blob = store.put_bytes(b"soon gone")
    assert store.exists(blob.digest)
    s3_server.client().delete_object(Bucket=bucket_of(s3_url), Key=blob_key(blob.digest))
    assert not store.exists(blob.digest)
    with pytest.raises(BlobMissing, match=blob.digest) as raised:
        store.read_bytes(blob.digest)
    assert s3_url in str(raised.value)  # names where it looked
    with pytest.raises(BlobMissing, match=blob.digest):
        store.verify(blob.digest)
    with pytest.raises(BlobMissing, match=blob.digest):
        store.get_file(blob.digest, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    # Storing the bytes again restores the blob.
    assert store.put_bytes(b"soon gone") == blob
    assert store.read_bytes(blob.digest) == b"soon gone"


def test_blob_deleted_between_open_and_read_is_missing(
    store: ArtifactStore, s3_server: S3Server, s3_url: str
) -> None:
    blob = store.put_bytes(b"there when opened")
    with store.open(blob.digest) as reader:
        s3_server.client().delete_object(Bucket=bucket_of(s3_url), Key=blob_key(blob.digest))
        with pytest.raises(BlobMissing, match=blob.digest):
            reader.read()


@pytest.mark.parametrize("damage", ["same size", "other size"])
def test_blob_overwritten_behind_the_store_is_corrupt(
    damage: str, store: ArtifactStore, s3_server: S3Server, s3_url: str, tmp_path: Path
) -> None:
    original = b"original bytes " * 1000
    blob = store.put_bytes(original)
    tampered = original.replace(b"bytes", b"BYTES", 1) if damage == "same size" else b"short"
    assert tampered != original
    s3_server.client().put_object(
        Bucket=bucket_of(s3_url), Key=blob_key(blob.digest), Body=tampered
    )
    assert store.exists(blob.digest)  # present, but wrong
    with pytest.raises(DigestMismatch, match=blob.digest):
        store.read_bytes(blob.digest)
    with pytest.raises(DigestMismatch, match=blob.digest):
        store.verify(blob.digest)
    with pytest.raises(DigestMismatch, match=blob.digest):
        store.get_file(blob.digest, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # the bad bytes never reach the destination


def test_failed_stream_leaves_no_blob_and_no_spool(
    store: ArtifactStore,
    s3_server: S3Server,
    s3_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))  # where the store spools
    spooled_at_failure: list[str] = []

    class Broken(io.RawIOBase):
        """Two full chunks, then the source fails."""

        calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                spooled_at_failure.extend(p.name for p in spool_dir.iterdir())
                raise OSError("connection to the source reset")
            return b"z" * 4 * MIB

    with pytest.raises(OSError, match="connection to the source reset"):
        store.put_stream(Broken())  # type: ignore[arg-type]
    assert len(spooled_at_failure) == 1  # it was spooling there...
    assert spooled_at_failure[0].endswith(".part")
    assert list(spool_dir.iterdir()) == []  # ...and removed the spool
    assert objects(s3_server, bucket_of(s3_url)) == {}
    assert list(store.digests()) == []
    assert not store.exists(digest_bytes(b"z" * 8 * MIB))


# Stores a 12 MiB file in 5 MiB parts, and SIGKILLs itself once one part is uploaded.
KILLED_UPLOAD = """
import json, os, signal, sys
from pathlib import Path

import s3fs.core

from loopml.artifacts import ArtifactStore

url, options, source = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
s3fs.core.calculate_chunksize = lambda *a, **k: 5 * 2**20
call_s3 = s3fs.core.S3FileSystem._call_s3


async def call_then_die(self, method, *args, **kwargs):
    result = await call_s3(self, method, *args, **kwargs)
    if method == "upload_part":
        print(f"uploaded part {kwargs['PartNumber']}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return result


s3fs.core.S3FileSystem._call_s3 = call_then_die
ArtifactStore(url, options).put_file(source)
print("finished", flush=True)
"""


def test_upload_killed_midway_never_appears(
    store: ArtifactStore,
    s3_server: S3Server,
    s3_url: str,
    s3_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    data = os.urandom(12 * MIB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    digest = digest_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_UPLOAD, s3_url, json.dumps(s3_options), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done
    assert "uploaded part" in done.stdout
    assert "finished" not in done.stdout
    # The upload was cut off in the middle...
    bucket = bucket_of(s3_url)
    client = s3_server.client()
    pending = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [upload["Key"] for upload in pending] == [blob_key(digest)]
    # ...and its blob never appears: not listed, not readable.
    assert objects(s3_server, bucket) == {}
    assert not store.exists(digest)
    assert list(store.digests()) == []
    with pytest.raises(BlobMissing, match=digest):
        store.read_bytes(digest)
    # Storing the file again completes it.
    assert store.put_file(source).digest == digest
    assert store.read_bytes(digest) == data
    for upload in pending:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def test_prepare_creates_the_bucket(s3_server: S3Server, s3_options: dict[str, Any]) -> None:
    bucket = new_bucket_name()
    client = s3_server.client()
    with pytest.raises(client.exceptions.ClientError):
        client.head_bucket(Bucket=bucket)
    store = ArtifactStore(f"s3://{bucket}/some/prefix", s3_options)
    store.prepare()
    client.head_bucket(Bucket=bucket)  # raises if it is not there
    store.prepare()  # again: nothing to do, no error
    assert list(store.digests()) == []
    blob = store.put_bytes(b"in a new bucket")
    assert list(objects(s3_server, bucket)) == [blob_key(blob.digest, "some/prefix")]
    assert list(store.digests()) == [blob.digest]


def test_workspace_on_s3_from_environment_then_from_loopml_toml(
    s3_server: S3Server,
    s3_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs

    # `loopml.workspace` is the function (loopml/__init__.py rebinds the name), so
    # `loopml.workspace.init` does not work: import from the module.
    from loopml.workspace import init, workspace

    for name in ("LOOPML_STORE_URL", "LOOPML_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)
    # `init` prepares the artifact store before there is a loopml.toml to hold options,
    # so botocore's own variables must lead it to the server.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    s3fs.S3FileSystem.clear_instance_cache()  # no filesystem made under other variables
    root = tmp_path / "ws"
    root.mkdir()
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights v1")
    with init(root, artifacts_url=s3_url) as ws:
        assert ws.settings.artifacts_options == {}
        artifact = ws.add_file(model, name="model", kind="weights")
        assert artifact.digest == digest_bytes(b"weights v1")
        assert ws.artifacts.read_bytes(artifact.digest) == b"weights v1"
    bucket = bucket_of(s3_url)
    assert list(objects(s3_server, bucket)) == [blob_key(artifact.digest)]

    # The same workspace with its options in loopml.toml, and no AWS_* variables.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name)
    s3fs.S3FileSystem.clear_instance_cache()
    config = root / "loopml.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[artifacts.options]\n"
        + f"endpoint_url = {json.dumps(s3_server.endpoint_url)}\n"
        + f"key = {json.dumps(s3_server.key)}\n"
        + f"secret = {json.dumps(s3_server.secret)}\n"
        + "skip_instance_cache = true\n"
        + "use_listings_cache = false\n",
        encoding="utf-8",
    )
    model.write_bytes(b"weights v2")
    with workspace(root) as ws:
        assert ws.settings.artifacts_url == s3_url
        assert ws.settings.artifacts_options["endpoint_url"] == s3_server.endpoint_url
        assert ws.artifacts.read_bytes(artifact.digest) == b"weights v1"
        second = ws.add_file(model, name="model", kind="weights")
        assert second.version == artifact.version + 1
        assert ws.artifacts.read_bytes(second.digest) == b"weights v2"
        assert sorted(ws.artifacts.digests()) == sorted([artifact.digest, second.digest])
    assert sorted(objects(s3_server, bucket)) == sorted(
        [blob_key(artifact.digest), blob_key(second.digest)]
    )


@pytest.mark.parametrize("folder", ["emptied by a delete", "marker object"])
def test_digests_lists_only_digests(
    folder: str, store: ArtifactStore, s3_server: S3Server, s3_url: str
) -> None:
    client = s3_server.client()
    bucket = bucket_of(s3_url)
    kept: list[str] = []
    if folder == "marker object":
        # The zero-byte "folder" objects consoles and other tools make.
        kept.append(store.put_bytes(b"kept").digest)
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/blobs/", Body=b"")
    else:
        # SeaweedFS keeps the emptied folder, which s3fs find() then returns.
        gone = store.put_bytes(b"deleted")
        client.delete_object(Bucket=bucket, Key=blob_key(gone.digest))
    assert list(store.digests()) == kept


def test_default_options_restore_a_blob_deleted_elsewhere(s3_server: S3Server, s3_url: str) -> None:
    # The options a user would write: s3fs's instance and listings caches left on.
    options = {"endpoint_url": s3_server.endpoint_url, "key": s3_server.key}
    store = ArtifactStore(s3_url, {**options, "secret": s3_server.secret})
    blob = store.put_bytes(b"restore me")
    assert list(store.digests()) == [blob.digest]  # s3fs caches the listing
    s3_server.client().delete_object(Bucket=bucket_of(s3_url), Key=blob_key(blob.digest))
    # The fix the BlobMissing message gives: store the bytes again.
    store.put_bytes(b"restore me")
    assert list(objects(s3_server, bucket_of(s3_url))) == [blob_key(blob.digest)]


@pytest.mark.parametrize("problem", ["wrong secret", "no such bucket"])
def test_unusable_bucket_fails_with_a_loopml_error(
    problem: str, s3_url: str, s3_options: dict[str, Any]
) -> None:
    if problem == "wrong secret":
        store = ArtifactStore(s3_url, {**s3_options, "secret": "wrong"})
    else:
        store = ArtifactStore(f"s3://{new_bucket_name()}/artifacts", s3_options)
    with pytest.raises(LoopmlError):
        store.put_bytes(b"anything")


def test_cli_init_writes_storage_options_that_later_commands_use(
    s3_server: S3Server, s3_url: str, cli: Any, tmp_path: Path
) -> None:
    cli.env = {k: v for k, v in cli.env.items() if not k.startswith("AWS_")}
    cli.env["AWS_EC2_METADATA_DISABLED"] = "true"
    cli(
        "init",
        "--artifacts-url",
        s3_url,
        "--artifacts-option",
        f"endpoint_url={s3_server.endpoint_url}",
        "--artifacts-option",
        f"key={s3_server.key}",
        "--artifacts-option",
        f"secret={s3_server.secret}",
        "--artifacts-option",
        "use_listings_cache=false",
        check=True,
    )
    settings = (tmp_path / "loopml.toml").read_text(encoding="utf-8")
    assert '"use_listings_cache" = false' in settings  # a TOML boolean, not a string
    (tmp_path / "model.bin").write_bytes(b"weights")
    cli("artifacts", "put", "model.bin", "--name", "model", "--kind", "weights", check=True)
    digest = digest_bytes(b"weights")
    assert list(objects(s3_server, bucket_of(s3_url))) == [blob_key(digest)]
    cli("artifacts", "get", "model@v1", "copy.bin", "--kind", "weights", check=True)
    assert (tmp_path / "copy.bin").read_bytes() == b"weights"
    assert "0 damaged" in cli("verify", check=True).out
