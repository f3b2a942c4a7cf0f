"""``loopml serve``: every deployment of a workspace, over HTTP and gRPC, in one process
or several.

A :class:`Server` puts the parts together: the watcher that keeps what is served current
(:mod:`~loopml.serve._live`), the engine that answers (:mod:`~loopml.serve._engine`), the
prediction log, the sharing of bandit statistics, the ASGI app on uvicorn (uvloop and
httptools) and the gRPC service on the same event loop. On SIGTERM or SIGINT uvicorn
stops taking connections, answers the requests in flight, then the log is flushed:
every prediction answered is in the log.

Bound to a loopback address it needs no token. Bound to any other it refuses to start
without one (``token=``, ``LOOPML_SERVE_TOKEN``) unless ``insecure=True``, and then
every endpoint but health requires ``Authorization: Bearer TOKEN``.

With ``workers=N`` uvicorn runs N processes on the port, each a whole server of its
own that shares nothing but the store: each follows the same changes and writes its own
log segments.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import logging
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from loopml.errors import ConfigError
from loopml.serve._engine import Engine
from loopml.serve._feedback_endpoint import FeedbackEndpoint
from loopml.serve._http import App
from loopml.serve._metrics import Metrics

if TYPE_CHECKING:
    from loopml.workspace import Workspace

log = logging.getLogger("loopml.serve")

TOKEN_VARIABLE = "LOOPML_SERVE_TOKEN"  # read by the CLI's --token
_WORKER_VARIABLE = "LOOPML_SERVE_WORKER_OPTIONS"
# How uvicorn runs the app, one worker or many: uvloop (which sets TCP_NODELAY on every
# connection: no Nagle delay behind small answers) and httptools; no access log.
UVICORN: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "on",
    "log_level": "warning",
    "access_log": False,
    "server_header": False,
    # nothing reads the client's address or scheme: no X-Forwarded-* rewriting per request
    "proxy_headers": False,
    "timeout_graceful_shutdown": 30,
}


@dataclass(frozen=True)
class ServeOptions:
    """How a server runs; see :func:`serve`."""

    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int | None = 8081
    workers: int = 1
    token: str | None = None
    insecure: bool = False
    poll_seconds: float = 0.2
    flush_seconds: float = 1.0
    log_predictions: bool = True

    def checked(self) -> ServeOptions:
        """These options, or ConfigError naming the one at fault and the fix."""
        for name in ("port", "grpc_port"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 <= value <= 65535):
                raise ConfigError(
                    f"{name}={value!r} is not a port; give a number from 1 to 65535 (0: any "
                    "free port)",
                    field=name,
                )
        if not (isinstance(self.workers, int) and 1 <= self.workers <= 64):
            raise ConfigError(
                f"workers={self.workers!r}; give a number of processes from 1 to 64",
                field="workers",
            )
        if self.workers > 1 and (self.port == 0 or self.grpc_port == 0):
            raise ConfigError(
                "several workers share one port: give --port (and --grpc-port) a number, not 0",
                field="port",
            )
        for name in ("poll_seconds", "flush_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.01 <= value <= 60):
                raise ConfigError(
                    f"{name}={value!r}; give a number of seconds from 0.01 to 60", field=name
                )
        if not _loopback(self.host) and not self.token and not self.insecure:
            raise ConfigError(
                f"the server would listen on {self.host}, which other machines can reach, "
                f"with no token: set {TOKEN_VARIABLE} (or --token) so that clients must send "
                "'Authorization: Bearer TOKEN', or pass --insecure to serve anyone",
                field="host",
            )
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """One server process's parts, over one workspace; see the module docstring."""

    def __init__(self, workspace: Workspace, options: ServeOptions | None = None) -> None:
        from loopml.serve._live import Watcher

        self.options = (options or ServeOptions()).checked()
        self.workspace = workspace
        self.metrics = Metrics()
        self.worker = f"{socket.gethostname()}-{os.getpid()}"
        self.prediction_log = self._prediction_log()
        self.feedback_log = self._feedback_log()
        self.engine = Engine(metrics=self.metrics, log=self.prediction_log)
        self.watcher = Watcher(
            workspace,
            self.engine.install,
            poll_seconds=self.options.poll_seconds,
            on_batch=self.metrics.on_batch,
        )
        self.sharing = self._arm_sharing()
        self.feedback = FeedbackEndpoint(
            workspace, self.engine, self.feedback_log, self.options.flush_seconds
        )
        self.app = App(
            self.engine,
            token=self.options.token,
            on_startup=self.startup,
            on_shutdown=self.shutdown,
            feedback=self.feedback,
        )
        self._grpc: Any = None
        self.grpc_port: int | None = None
        self.owns_process = False  # serving is all this process does (see own_process)

    def _prediction_log(self) -> Any:
        if not self.options.log_predictions:
            return None
        from loopml.serve._log import PredictionLog

        return PredictionLog(
            self.workspace, worker=self.worker, flush_seconds=self.options.flush_seconds
        )

    def _feedback_log(self) -> Any:
        from loopml.serve._log import FeedbackLog

        return FeedbackLog(
            self.workspace, worker=self.worker, flush_seconds=self.options.flush_seconds
        )

    def _arm_sharing(self) -> Any:
        from loopml.serve._arms import ArmSharing

        return ArmSharing(self.workspace.store, self._routers, interval=1.0)

    def _routers(self) -> Mapping[str, Any]:
        return {
            name: live.router
            for name, live in self.engine.deployments.items()
            if live.policy.routing != "fixed"
        }

    # -- lifecycle -----------------------------------------------------------------------

    async def startup(self) -> None:
        """Load every deployment, then start following changes, the log and gRPC."""
        await asyncio.to_thread(self.watcher.refresh)
        self.watcher.start()
        if self.prediction_log is not None:
            self.prediction_log.start()
        self.feedback_log.start()
        self.sharing.start()
        if self.options.grpc_port is not None:
            from loopml.serve import _grpc

            self._grpc = await _grpc.start(self.engine, self.options.host, self.options.grpc_port)
            self.grpc_port = self._grpc.loopml_port
        for name, failure in self.engine.failures.items():
            log.error("deployment %s is not served: %s", name, failure.message)
        if self.owns_process:
            # What was loaded to start (modules, models) stays: moved out of the collector's
            # sight, so that a full collection walks only what requests made, not the
            # whole heap (tens of milliseconds, in the middle of answering). Not collected
            # first (a full collection, 25-30 ms before the first answer, that found
            # nothing to free): a process that only serves starts with the collector off
            # (`loopml serve`, worker_app), and the little garbage starting made (about
            # a thousand objects, 0.3 MB, with a scikit-learn model) is frozen with the
            # rest. Then the collector is on, for what requests make.
            gc.freeze()
            gc.enable()

    async def shutdown(self) -> None:
        """Stop gRPC (answering what it has), following changes, let the shadows still
        answering finish, and flush the logs."""
        if self._grpc is not None:
            await self._grpc.stop(grace=5)
        self.watcher.stop()
        self.sharing.stop()
        await self.engine.shadows_done(timeout=5)
        if self.prediction_log is not None:
            await asyncio.to_thread(self.prediction_log.close)
        await asyncio.to_thread(self.feedback_log.close)

    # -- running -------------------------------------------------------------------------

    def uvicorn_config(self) -> Any:
        import uvicorn

        return uvicorn.Config(self.app, host=self.options.host, port=self.options.port, **UVICORN)

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT (one process)."""
        import uvicorn

        own_process()
        self.owns_process = True
        uvicorn.Server(self.uvicorn_config()).run()


#: how long a thread may hold the GIL while another waits for it, in a server process
SWITCH_SECONDS = 0.0005


def own_process() -> None:
    """Settings of a process that does nothing but serve: the event loop waits at most
    half a millisecond for the interpreter while a model call or the log's writer runs
    (Python's default, 5 ms, shows in the p99 of a busy server)."""
    sys.setswitchinterval(SWITCH_SECONDS)


def listening(options: ServeOptions) -> ServeOptions:
    """``options`` with ports something can listen on: a port given is checked free
    (ConfigError naming it when not), and port 0 becomes a free port, so that what the
    server says it listens on is where it listens."""
    port = _free(options.host, options.port, "--port")
    grpc_port = options.grpc_port
    if grpc_port is not None:
        grpc_port = _free(options.host, grpc_port, "--grpc-port", taken=port)
    return replace(options, port=port, grpc_port=grpc_port)


def _free(host: str, port: int, option: str, taken: int | None = None) -> int:
    """``port``, checked free on ``host`` (ConfigError naming it when nothing can
    listen on it: in use, or an address this machine does not have); for 0, a free
    one (other than ``taken``) the system picks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise ConfigError(
                    f"cannot listen on {host}:{port} ({error.strerror or error}): another "
                    f"process has the port, or the address is not this machine's; stop it, "
                    f"or give {option} another port",
                    field=option.removeprefix("--").replace("-", "_"),
                ) from None
            found = int(probe.getsockname()[1])
        if port or found != taken:
            return found


def serve(workspace: Workspace | None = None, options: ServeOptions | None = None) -> None:
    """Serve every deployment of the workspace until SIGTERM or SIGINT; see the module
    docstring. With ``options.workers > 1`` each worker process opens the workspace
    itself."""
    from loopml._context import workspace_in_use

    options = listening((options or ServeOptions()).checked())
    ws = workspace_in_use(workspace)
    if options.workers == 1:
        Server(ws, options).run()
        return
    import uvicorn

    os.environ[_WORKER_VARIABLE] = json.dumps({"root": str(ws.root), **asdict(options)})
    uvicorn.run(
        "loopml.serve._server:worker_app",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        **UVICORN,
    )


def worker_app() -> App:
    """The app of one worker process of ``serve(workers=N)`` (uvicorn's factory)."""
    from loopml.workspace import workspace

    gc.disable()  # until the server is up: see Server.startup
    own_process()
    given = json.loads(os.environ[_WORKER_VARIABLE])
    root = given.pop("root")
    options = ServeOptions(**given)
    server = Server(workspace(root), options)
    server.owns_process = True
    return server.app
